"""CodeCarbon's tracker doing the same job as greenai's `idle_monitor` example: track the machine
at a fixed interval while the main thread sleeps, and print the CPU time this process used
meanwhile. Usage: python codecarbon_idle.py INTERVAL_S DURATION_S

With GREENAI_SYSFS_ROOT set (the fixture tree greenai's side reads), CodeCarbon's RAPL reader is
pointed at the same tree's powercap directory, so that both read the same counter files at every
tick; otherwise it runs as installed (no RAPL here: its CPU load model, psutil at every tick)."""
import json
import logging
import resource
import sys
import time

import os

import codecarbon.core.cpu as cc_cpu
from codecarbon import OfflineEmissionsTracker

FIXTURE = os.environ.get("GREENAI_SYSFS_ROOT")
if FIXTURE:
    rapl = os.path.join(FIXTURE, "class", "powercap")
    available, init = cc_cpu.is_rapl_available, cc_cpu.IntelRAPL.__init__
    cc_cpu.is_rapl_available = lambda rapl_dir=None: available(rapl)

    def _init(self, rapl_dir=None, *args, **kwargs):
        init(self, rapl, *args, **kwargs)

    cc_cpu.IntelRAPL.__init__ = _init


def cpu_time():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


interval, duration = float(sys.argv[1]), float(sys.argv[2])
logging.disable(logging.WARNING)
tracker = OfflineEmissionsTracker(
    country_iso_code="FRA",
    measure_power_secs=interval,
    save_to_file=False,
    log_level="error",
)
tracker.start()
c0, t0 = cpu_time(), time.monotonic()
time.sleep(duration)
c1, t1 = cpu_time(), time.monotonic()
tracker.stop()
reads = [repr(h) for h in tracker._hardware]
cpu, wall = c1 - c0, t1 - t0
print(json.dumps({"tool": "codecarbon", "interval_s": interval, "wall_s": round(wall, 3),
                  "cpu_s": round(cpu, 6), "core_pct": round(100 * cpu / wall, 5), "reads": reads}))
