"""greenai's Python package on a real workload and on fixture sysfs trees."""

import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import greenai

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates" / "greenai-meter" / "tests" / "fixtures"


def greenai_bin():
    """The CLI binary, where `cargo build` made one (CI builds it before these tests)."""
    for p in (os.environ.get("GREENAI_BIN"), ROOT / "target" / "debug" / "greenai", ROOT / "target" / "release" / "greenai"):
        if p and Path(p).exists():
            return str(p)
    return None


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "runs.sqlite")


@pytest.fixture
def sysfs(tmp_path, monkeypatch):
    """A copy of the two-socket server tree, and GREENAI_SYSFS_ROOT pointing at it."""
    root = tmp_path / "sys"
    shutil.copytree(FIXTURES / "intel-2s-server", root)
    monkeypatch.setenv("GREENAI_SYSFS_ROOT", str(root))
    return root


def advance(root, zone, uj):
    base = root / "class" / "powercap" / zone
    top = int((base / "max_energy_range_uj").read_text())
    now = int((base / "energy_uj").read_text())
    (base / "energy_uj").write_text(f"{(now + uj) % (top + 1)}\n")


def burn(seconds):
    import time

    t = time.perf_counter()
    x = 0
    while time.perf_counter() - t < seconds:
        x += sum(i * i for i in range(1000))
    return x


def test_a_real_workload_is_measured_and_attributed(db):
    with greenai.Meter(interval=0.02, db=db, region="FR") as meter:
        meter.begin_window("loop")
        burn(0.4)
        m = meter.end_window("loop")
    assert m.energy_j > 0
    assert m.duration_s >= 0.4
    assert m.provenance in ("measured", "integrated", "estimated")
    assert all(c.provenance in ("measured", "integrated", "estimated") for c in m.components)
    assert 0 < m.process_energy_j <= m.energy_j
    assert m.process_cpu_time_s > 0.2
    assert m.region == "FR" and m.emissions_g > 0
    d = m.to_dict()
    assert d["energy_j"] == m.energy_j and d["components"][0]["name"] == m.components[0].name
    json.dumps(d)  # plain data
    assert meter.measurement.energy_j >= m.energy_j


def test_numpy_work_is_measured(db):
    np = pytest.importorskip("numpy")
    with greenai.Meter(interval=0.05, db=db, record=False) as meter:
        meter.begin_window("matmul")
        a = np.random.default_rng(0).random((300, 300))
        for _ in range(20):
            a = a @ a / np.linalg.norm(a)
        m = meter.end_window("matmul")
    assert m.energy_j > 0 and m.samples >= 2


def test_windows_overlap_and_an_exception_still_records_them(db):
    with pytest.raises(ZeroDivisionError):
        with greenai.Meter(interval=0.02, db=db) as meter:
            meter.begin_window("outer")
            meter.begin_window("inner")
            burn(0.1)
            1 / 0
    assert set(meter.measurements) == {"outer", "inner"}
    assert meter.measurements["inner"].energy_j <= meter.measurements["outer"].energy_j
    assert meter.measurement is not None
    # The run was stored, complete.
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT complete FROM runs WHERE id = ?", (meter.run_id,)).fetchone() == (1,)


def test_the_decorator_measures_each_call_even_when_it_raises(db):
    meter = greenai.Meter(interval=0.02, db=db)

    @greenai.track(name="step", meter=meter)
    def step(fail=False):
        burn(0.05)
        if fail:
            raise ValueError("boom")
        return 42

    assert step() == 42
    first = step.last_measurement
    assert first.energy_j > 0 and first.name.startswith("step#")
    with pytest.raises(ValueError):
        step(fail=True)
    assert step.last_measurement is not first
    meter.close()


def test_numbers_equal_the_rust_api_on_a_fake_sysfs_tree(sysfs, db):
    # The same counter moves as the Rust test `window_energy_is_exact_at_its_edges…` makes, with
    # the same expected figures: the counters' exact differences at the window's edges.
    meter = greenai.Meter(interval=0.005, db=db)
    advance(sysfs, "intel-rapl:0", 1_000_000)  # before the window
    meter.begin_window("w")
    for _ in range(20):
        advance(sysfs, "intel-rapl:0", 250_000)
        advance(sysfs, "intel-rapl:0:0", 50_000)
    m = meter.end_window("w")
    meter.close()
    assert m.component("cpu-package-0").energy_j == 5.0
    assert m.component("dram-0").energy_j == 1.0
    assert m.component("cpu-package-1").energy_j == 0.0
    assert m.component("psys-2").counted is False
    assert m.energy_j == 6.0
    assert m.provenance == "measured"

    bin_ = greenai_bin()
    if bin_:
        cli = json.loads(subprocess.run([bin_, "detect", "--json"], capture_output=True, check=True,
                                        env=dict(os.environ)).stdout)
        assert greenai.detect()["components"] == cli["components"]


def test_python_runs_land_in_the_clis_database(db):
    with greenai.Meter(interval=0.02, db=db, region="US-CA", project="py-test") as meter:
        burn(0.1)
    rid = meter.run_id
    with sqlite3.connect(db) as c:
        project, complete, report = c.execute(
            "SELECT project_name, complete, report FROM runs WHERE id = ?", (rid,)).fetchone()
    assert (project, complete) == ("py-test", 1)
    stored = json.loads(report)
    assert stored["energy_j"] == meter.measurement.energy_j
    assert stored["region"] == "US-CA"
    bin_ = greenai_bin()
    if bin_:
        out = subprocess.run([bin_, "--db", db, "runs", "export", "--format", "json", rid],
                             capture_output=True, check=True).stdout
        assert json.loads(out)[0]["run_id"] == rid


def test_errors_are_python_exceptions_with_the_clis_messages(db):
    with pytest.raises(greenai.GreenaiError, match="outside 1 ms"):
        greenai.Meter(interval=0, db=db)
    with pytest.raises(greenai.GreenaiError, match="unknown region \"Narnia\"; `greenai carbon regions` lists"):
        greenai.Meter(region="Narnia", db=db)
    with greenai.Meter(db=db, record=False) as meter:
        meter.begin_window("w")
        with pytest.raises(greenai.GreenaiError, match="already open"):
            meter.begin_window("w")
        with pytest.raises(greenai.GreenaiError, match="no window named"):
            meter.end_window("nope")
    with pytest.raises(greenai.GreenaiError, match="closed"):
        meter.begin_window("again")
    bad = Path(db).with_name("garbage.sqlite")
    bad.write_bytes(b"\x42" * 4096)
    with pytest.raises(greenai.GreenaiError, match="left untouched"):
        greenai.Meter(db=str(bad))


def test_a_training_loop_in_windows_per_epoch(db):
    # A training loop's shape without PyTorch (which CI cannot install from PyPI without its
    # CUDA wheels): logistic regression by gradient descent, one window per epoch.
    rng = random.Random(0)
    xs = [[rng.gauss(0, 1) for _ in range(20)] for _ in range(256)]
    ys = [1.0 if sum(x[:3]) > 0 else 0.0 for x in xs]
    w = [0.0] * 20
    with greenai.Meter(interval=0.02, db=db) as meter:
        for epoch in range(2):
            meter.begin_window(f"epoch-{epoch}")
            for _ in range(20):
                grad = [0.0] * 20
                for x, y in zip(xs, ys):
                    p = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x))))
                    for j in range(20):
                        grad[j] += (p - y) * x[j] / len(xs)
                w = [a - 0.5 * g for a, g in zip(w, grad)]
            meter.end_window(f"epoch-{epoch}")
    correct = sum((sum(a * b for a, b in zip(w, x)) > 0) == (y == 1.0) for x, y in zip(xs, ys))
    assert correct / len(xs) > 0.9
    assert {"epoch-0", "epoch-1"} <= set(meter.measurements)
