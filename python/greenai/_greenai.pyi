"""Type hints for greenai's compiled module. Use the ``greenai`` package, which wraps it."""

from typing import List, Optional, Tuple

class GreenaiError(RuntimeError):
    """An error from greenai, with the same message the greenai command prints."""

class Meter:
    def __init__(
        self,
        interval: float = 0.1,
        region: Optional[str] = None,
        db: Optional[str] = None,
        record: bool = True,
        project: str = "python",
        argv: List[str] = ...,
        pue: Optional[float] = None,
        erf: Optional[float] = None,
        intensity: Optional[float] = None,
    ) -> None: ...
    def begin_window(self, name: str) -> None: ...
    def end_window(self, name: str) -> str: ...
    def open_windows(self) -> List[str]: ...
    def close(self) -> Tuple[str, List[Tuple[str, str]]]: ...
    @property
    def run_id(self) -> Optional[str]: ...
    @property
    def carbon_warning(self) -> Optional[str]: ...

def detect_json() -> str: ...
def default_db() -> str: ...
