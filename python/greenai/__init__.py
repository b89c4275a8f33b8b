"""greenai's energy meter, from Python.

    import greenai

    with greenai.Meter(region="FR") as meter:
        for epoch in range(3):
            meter.begin_window(f"epoch-{epoch}")
            train_one_epoch()
            m = meter.end_window(f"epoch-{epoch}")
            print(m.name, m.energy_j, m.provenance, m.emissions_g)
    print(meter.measurement.energy_j)

The sampler is a Rust thread that never holds the GIL; calls into the meter release it. A meter
records one run in the same SQLite database as the ``greenai`` command (``db=`` or ``GREENAI_DB``
moves it; ``record=False`` keeps nothing), so ``greenai runs list`` and ``greenai runs export``
show Python runs too.
"""

from __future__ import annotations

import atexit
import functools
import json
import sys
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, TypeVar

from . import _greenai
from ._greenai import GreenaiError

__all__ = ["Meter", "Measurement", "Component", "GreenaiError", "track", "detect", "default_db"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Component:
    """One component's part of a measurement.

    ``energy_j`` is ``None`` when the sensor gave no reading (never 0 for "unknown");
    ``provenance`` is ``"measured"`` (an energy counter), ``"integrated"`` (from power samples) or
    ``"estimated"`` (a model, with ``uncertainty`` as a relative band); ``counted`` says whether the
    component is added to the total (nested or duplicate readings are not).
    """

    name: str
    kind: str
    energy_j: Optional[float]
    avg_power_w: Optional[float]
    peak_power_w: Optional[float]
    provenance: str
    sensor: str
    uncertainty: Optional[float]
    counted: bool
    within: Optional[str]
    integrated_energy_j: Optional[float] = None
    disagreement: Optional[float] = None


@dataclass(frozen=True)
class Measurement:
    """What a window used: energy per component and in total, power, the Python process's share,
    and carbon (``emissions_g``, ``net_emissions_g``, ``intensity_g_per_kwh``, ``region``, …).

    Field names match ``greenai run --json``.
    """

    name: str
    start_unix_s: float
    duration_s: float
    energy_j: float
    energy_kwh: float
    avg_power_w: float
    peak_power_w: Optional[float]
    provenance: str
    uncertainty: Optional[float]
    components: List[Component]
    process_energy_j: Optional[float]
    process_cpu_time_s: Optional[float]
    cpu_utilisation: Optional[float]
    missing: List[Dict[str, Any]]
    samples: int
    emissions_g: Optional[float] = None
    net_emissions_g: Optional[float] = None
    intensity_g_per_kwh: Optional[float] = None
    intensity_source: Optional[str] = None
    intensity_year: Optional[int] = None
    region: Optional[str] = None
    pue: Optional[float] = None
    erf: Optional[float] = None
    carbon: Dict[str, Any] = field(default_factory=dict)

    _CARBON_FIELDS = (
        "emissions_g", "net_emissions_g", "intensity_g_per_kwh", "intensity_source",
        "intensity_year", "region", "pue", "erf",
    )

    @classmethod
    def _from_json(cls, text: str) -> "Measurement":
        d = json.loads(text)
        d["components"] = [Component(**c) for c in d["components"]]
        known = set(cls.__dataclass_fields__)
        extra = {k: d.pop(k) for k in list(d) if k not in known}
        return cls(**d, carbon=extra)

    def component(self, name: str) -> Optional[Component]:
        """The component called ``name`` (``cpu-package-0``, ``gpu-0``, …), if measured."""
        return next((c for c in self.components if c.name == name), None)

    def to_dict(self) -> Dict[str, Any]:
        """A plain dict, as ``greenai run --json`` would print it."""
        d = asdict(self)
        d.update(d.pop("carbon"))
        return d


class Meter:
    """Samples the machine's energy sensors and measures named, overlapping windows.

    Args:
        interval: sampling period in seconds (0.001 to 60).
        region: grid for carbon: a country (``"FR"``), a sub-national grid (``"US-CA"``) or a
            cloud region (``"gcp:europe-west1"``); default ``$GREENAI_REGION``, else the world
            average (see ``carbon_warning``).
        db: the run database; default ``$GREENAI_DB`` or ``~/.local/share/greenai/greenai.sqlite``.
        record: keep this meter's run in the database.
        project: the run's project name.
        pue, erf, intensity: data-centre factors and a fixed intensity (gCO2e/kWh) for carbon.

    Use it as a context manager: on exit every window still open (an exception may leave one) is
    closed and kept in ``measurements``, the whole session's measurement is ``measurement``, and the
    run is stored.
    """

    def __init__(
        self,
        interval: float = 0.1,
        region: Optional[str] = None,
        db: Optional[str] = None,
        *,
        record: bool = True,
        project: str = "python",
        pue: Optional[float] = None,
        erf: Optional[float] = None,
        intensity: Optional[float] = None,
    ) -> None:
        self._inner = _greenai.Meter(
            interval=interval, region=region, db=db, record=record, project=project,
            argv=[sys.executable] + sys.argv, pue=pue, erf=erf, intensity=intensity,
        )
        self._lock = threading.Lock()
        self._run_id: Optional[str] = self._inner.run_id
        self._carbon_warning: Optional[str] = self._inner.carbon_warning
        self.measurements: Dict[str, Measurement] = {}
        self.measurement: Optional[Measurement] = None

    @property
    def run_id(self) -> Optional[str]:
        """This meter's run id in the database, when recording."""
        return self._run_id

    @property
    def carbon_warning(self) -> Optional[str]:
        """Set when no region was given and the world-average intensity stands in."""
        return self._carbon_warning

    def begin_window(self, name: str) -> None:
        """Opens a window named ``name``; its energy starts from the counters' values now."""
        self._inner.begin_window(name)

    def end_window(self, name: str) -> Measurement:
        """Closes the window named ``name`` and returns what it used."""
        m = Measurement._from_json(self._inner.end_window(name))
        with self._lock:
            self.measurements[name] = m
        return m

    def open_windows(self) -> List[str]:
        """The names of the windows still open."""
        return list(self._inner.open_windows())

    def close(self) -> Measurement:
        """Closes open windows, stops sampling and stores the run. Returns the whole session."""
        whole, left = self._inner.close()
        with self._lock:
            for name, text in left:
                self.measurements[name] = Measurement._from_json(text)
        self.measurement = Measurement._from_json(whole)
        return self.measurement

    def __enter__(self) -> "Meter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        return False

    def track(self, name: Optional[str] = None) -> Callable[[F], F]:
        """A decorator measuring each call of a function in a window of this meter."""
        return track(name, meter=self)


_default: Optional[Meter] = None
_default_lock = threading.Lock()
_counter = 0


def _default_meter() -> Meter:
    global _default
    with _default_lock:
        if _default is None:
            _default = Meter()
            atexit.register(_default.close)
        return _default


def track(name: Optional[str] = None, *, meter: Optional[Meter] = None) -> Callable[[F], F]:
    """Measures each call of the decorated function in a window.

    The measurement of the last call is the wrapper's ``last_measurement``; an exception still
    closes and records the window. Without ``meter``, a process-wide meter is started on first
    use and closed at exit.

        @greenai.track(name="train")
        def train(): ...
    """

    def decorate(fn: F) -> F:
        label = name or getattr(fn, "__qualname__", "function")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            global _counter
            m = meter or _default_meter()
            with _default_lock:
                _counter += 1
                window = f"{label}#{_counter}"
            m.begin_window(window)
            try:
                return fn(*args, **kwargs)
            finally:
                wrapper.last_measurement = m.end_window(window)  # type: ignore[attr-defined]

        wrapper.last_measurement = None  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def detect() -> Dict[str, Any]:
    """What ``greenai detect --json`` prints: sensors found, missing and why, and the fallback."""
    return json.loads(_greenai.detect_json())


def default_db() -> str:
    """The database path a meter records into by default."""
    return _greenai.default_db()
