"""Joins `greenai estimate --validate --json` (stdin) with CodeCarbon 3.3.2's estimate of each
server, writes one row per server to argv[1] (the measured wall power at active idle and at each
10 % load step, greenai's prediction with the curve and band fitted without that server, the band's
relative half-width, CodeCarbon's figure at each step), prints the summary and the ratio.

CodeCarbon's model is called as CodeCarbon runs it on a machine without RAPL, in its default
"machine" tracking mode: the TDP its own table gives the CPU's name (`TDP._get_matching_cpu`
over `cpu_power.csv`), else its default of 4 W per thread; CPU power `TDP × (0.1 + 0.9 × load³)`
(`CPU._get_power_from_cpu_load`, called with the load fed to its load meter); plus its RAM model
for the server's memory (`RAM._calculate_ram_power`). Both tools' figures are compared with the
server's wall power at the same load: what each says the machine draws.
"""
import csv
import json
import logging
import math
import statistics
import sys

logging.disable(logging.CRITICAL)

import codecarbon  # noqa: E402
from codecarbon.core.cpu import DEFAULT_POWER_PER_CORE, TDP  # noqa: E402
from codecarbon.external.hardware import CPU  # noqa: E402
from codecarbon.external.ram import RAM  # noqa: E402
from codecarbon.input import DataSource  # noqa: E402

STEPS = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


class FixedLoad:
    """Stands for CodeCarbon's system load meter: the load of the step being predicted."""

    def __init__(self):
        self.load = 0.0

    def percent(self, *_):
        return self.load

    def reset(self):
        pass


def codecarbon_model():
    table = DataSource().get_cpu_power_data()
    matcher = TDP.__new__(TDP)
    ram = RAM(tracking_mode="machine")

    def predict(cpu_name, threads, memory_gb, load_percent):
        match = matcher._get_matching_cpu(cpu_name, table)
        tdp = (
            float(table[table["Name"] == match]["TDP"].values[0])
            if match
            else threads * DEFAULT_POWER_PER_CORE
        )
        cpu = CPU(
            output_dir=".",
            mode="cpu_load",
            model=cpu_name,
            tdp=tdp,
            tracking_mode="machine",
        )
        meter = FixedLoad()
        meter.load = load_percent
        cpu._cpu_load_meter = meter
        watts = cpu._get_power_from_cpu_load().W + ram._calculate_ram_power(memory_gb)
        return watts, match is not None

    return predict


def q(values, p):
    """Nearest-rank quantile, as greenai computes it."""
    v = sorted(values)
    return v[max(1, min(len(v), math.ceil(p * len(v)))) - 1]


def main():
    out_path = sys.argv[1]
    v = json.load(sys.stdin)
    predict = codecarbon_model()
    rows, g_err, c_err, c_err_known, covered = [], [], [], [], 0
    tdp_err = []  # (curve error, greenai TDP model error) where greenai's TDP table knows the CPU
    for h in v["held"]:
        u = h["uncertainty"]
        cc = []
        for k, load in enumerate(STEPS):
            measured = h["measured_w"][k]
            g = h["predicted_w"][k]
            c, known = predict(h["cpu"], h["threads"], h["memory_gb"], float(load))
            cc.append(c)
            ge, ce = abs(g - measured) / measured, abs(c - measured) / measured
            covered += abs(measured / g - 1) <= u
            g_err.append(ge)
            c_err.append(ce)
            if known:
                c_err_known.append((ge, ce))
            if h["tdp_model_w"] is not None:
                tdp_err.append((ge, abs(h["tdp_model_w"][k] - measured) / measured))
        rows.append(
            [h["index"], h["family"], h["system"], h["cpu"], h["threads"]]
            + [f"{w:g}" for w in h["measured_w"]]
            + [f"{w:.1f}" for w in h["predicted_w"]]
            + [f"{u:.3f}"]
            + [f"{w:.1f}" for w in cc]
            + [int(known)]
        )
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(
            ["# row", "family", "system", "cpu", "threads"]
            + [f"measured_w_{p}" for p in STEPS]
            + [f"greenai_w_{p}" for p in STEPS]
            + ["greenai_band"]
            + [f"codecarbon_w_{p}" for p in STEPS]
            + ["codecarbon_tdp_known"]
        )
        w.writerows(rows)
    n = len(g_err)
    gk = [a for a, _ in c_err_known]
    ck = [b for _, b in c_err_known]
    print(f"codecarbon {codecarbon.__version__}; {v['servers']} servers held out, {n} points;"
          f" rows written to {out_path}")
    print(f"{'':34} {'median err':>10} {'p90 err':>8}")
    print(f"{'greenai (family curve, held out)':34} {statistics.median(g_err):>10.1%} {q(g_err, .9):>8.1%}")
    print(f"{'codecarbon (TDP model)':34} {statistics.median(c_err):>10.1%} {q(c_err, .9):>8.1%}")
    print(f"  where CodeCarbon's table knows the CPU ({len(ck) // 11} servers):")
    print(f"{'  greenai':34} {statistics.median(gk):>10.1%} {q(gk, .9):>8.1%}")
    print(f"{'  codecarbon':34} {statistics.median(ck):>10.1%} {q(ck, .9):>8.1%}")
    print(f"  where greenai's TDP table knows the CPU ({len(tdp_err) // 11} servers):")
    print(f"{'  greenai family curve':34} {statistics.median(a for a, _ in tdp_err):>10.1%} {q([a for a, _ in tdp_err], .9):>8.1%}")
    print(f"{'  greenai TDP model (one TDP, linear)':34} {statistics.median(b for _, b in tdp_err):>10.1%} {q([b for _, b in tdp_err], .9):>8.1%}")
    print(f"greenai's band covers {covered / n:.1%} of the held-out points")
    print(f"ratio of median errors (codecarbon / greenai): {statistics.median(c_err) / statistics.median(g_err):.2f}"
          f" (target: at least 2)")


if __name__ == "__main__":
    main()
