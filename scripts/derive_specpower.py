#!/usr/bin/env python3
"""Derive greenai's SPECpower table from Green Coding Solutions' cleaned SPECpower_ssj2008 results.

    crates/greenai-meter/data/specpower.tsv   one row per published SPECpower_ssj2008 result:
                                              the server, its CPU and family, chips, cores,
                                              hardware threads, memory, TDP per chip, and the
                                              average wall power at active idle and at each
                                              10 % target-load step

Source: github.com/green-coding-solutions/cloud-energy (MIT), data/spec_data_cleaned_unmelted.csv
at commit 6a25a2bd8e0e6139f71b4ee815a5dcb719ea9008, itself parsed from the results SPEC publishes at
spec.org/power_ssj2008/results. Usage (see data/SOURCES.md):

    python3 scripts/derive_specpower.py spec_data_cleaned_unmelted.csv > crates/greenai-meter/data/specpower.tsv

Standard library only. Left out, with the count of each printed to stderr: results not designated
"Server" (one desktop), results whose CPU has no microarchitecture in the source (9, all desktop
parts), and rows with a missing figure.
"""
import csv
import sys

# The source's architecture labels -> the family names greenai's curves use (Cloud Carbon
# Footprint's where both have the family, so the CPU generation table names one family).
FAMILIES = {
    "core": "Core (Merom/Penryn)",
    "nehalem": "Nehalem",
    "sandybridge": "Sandy Bridge",
    "ivybridge": "Ivy Bridge",
    "haswell": "Haswell",
    "broadwell": "Broadwell",
    "skylake": "Skylake",
    "cascadelake": "Cascade Lake",
    "cooperlake": "Cooper Lake",
    "icelake": "Ice Lake",
    "kabylabe": "Kaby Lake",  # sic in the source
    "coffeelake": "Coffee Lake",
    "rocketlake": "Rocket Lake",
    "opteron": "AMD Opteron",
    "epyc-gen1": "AMD EPYC 1st Gen",
    "epyc-gen2": "AMD EPYC 2nd Gen",
    "epyc-gen3": "AMD EPYC 3rd Gen",
}

STEPS = ["ActiveIdle"] + [f"{p}_AvgPower" for p in range(10, 101, 10)]


def family(row):
    arch = row["Architecture"].strip()
    if arch in FAMILIES:
        return FAMILIES[arch]
    # The source labels Milan-X results "epyc" without a generation; the model number says it
    # (7xx3 is the third generation).
    name = row["HW_CPUName"]
    if arch == "epyc" and any(f"7{d}{e}3" in name for d in "0123456789" for e in "0123456789"):
        return "AMD EPYC 3rd Gen"
    return None


def clean(text):
    return " ".join(text.replace("\t", " ").split())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: derive_specpower.py spec_data_cleaned_unmelted.csv > specpower.tsv")
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    print(
        "# published\tvendor\tsystem\tcpu\tfamily\tchips\tcores\tthreads\tmemory_gb\ttdp_w"
        "\tw_idle\tw_10\tw_20\tw_30\tw_40\tw_50\tw_60\tw_70\tw_80\tw_90\tw_100"
    )
    kept = no_family = incomplete = not_server = 0
    with open(sys.argv[1], newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["System_Designation"].strip() != "Server":
                not_server += 1
                continue
            fam = family(row)
            if fam is None:
                no_family += 1
                continue
            try:
                watts = [float(row[s]) for s in STEPS]
                chips = int(float(row["CPUChips"]))
                cores = int(float(row["CPUCores"]))
                threads = int(float(row["CPUThreads"]))
                memory = float(row["HW_MemAmountGB"])
                tdp = float(row["TDP"]) if row["TDP"].strip() else 0.0
            except (ValueError, KeyError):
                incomplete += 1
                continue
            if min(watts) <= 0 or chips <= 0 or threads <= 0:
                incomplete += 1
                continue
            out.writerow(
                [
                    clean(row["Publication"]),
                    clean(row["HW_Vendor"]),
                    clean(row["HW_Model"]),
                    clean(row["HW_CPUName"]),
                    fam,
                    chips,
                    cores,
                    threads,
                    f"{memory:g}",
                    f"{tdp:g}",
                ]
                + [f"{w:g}" for w in watts]
            )
            kept += 1
    print(
        f"{kept} results kept; {not_server} not servers, {no_family} without a family,"
        f" {incomplete} incomplete left out",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
