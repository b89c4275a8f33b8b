"""CodeCarbon's tracker doing the same job as greenai's `idle_monitor` example: track the machine
at a fixed interval while the main thread sleeps, and print the CPU time this process used
meanwhile. Usage: python codecarbon_idle.py INTERVAL_S DURATION_S"""
import json
import logging
import resource
import sys
import time

from codecarbon import OfflineEmissionsTracker


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
cpu, wall = c1 - c0, t1 - t0
print(json.dumps({"tool": "codecarbon", "interval_s": interval, "wall_s": round(wall, 3),
                  "cpu_s": round(cpu, 6), "core_pct": round(100 * cpu / wall, 5)}))
