#!/usr/bin/env python3
"""Derive greenai's CPU TDP table from CodeCarbon's.

Usage:
    pip download --no-deps codecarbon==3.3.2 -d /tmp/cc
    unzip -o /tmp/cc/codecarbon-3.3.2-py3-none-any.whl 'codecarbon/data/hardware/cpu_power.csv' -d /tmp/cc
    python3 scripts/derive_cpu_tdp.py /tmp/cc/codecarbon/data/hardware/cpu_power.csv \
        > crates/greenai-meter/data/cpu_tdp.tsv

Keeps the first row of each model name (case-insensitive), drops rows whose TDP is not a positive
number, and writes `name<TAB>tdp_w` lines.
"""
import csv
import sys

src = sys.argv[1]
seen = set()
print("# CPU model<TAB>TDP in watts. Derived by scripts/derive_cpu_tdp.py from codecarbon 3.3.2 (MIT),")
print("# codecarbon/data/hardware/cpu_power.csv. See data/SOURCES.md.")
with open(src, newline="") as f:
    for row in csv.DictReader(f):
        name = " ".join(row["Name"].split())
        try:
            tdp = float(row["TDP"])
        except ValueError:
            continue
        if not name or tdp <= 0 or name.lower() in seen:
            continue
        seen.add(name.lower())
        print(f"{name}\t{tdp:g}")
