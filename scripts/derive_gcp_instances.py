#!/usr/bin/env python3
"""Derive greenai's Google Cloud machine-type table from Cloud Carbon Footprint's coefficients.

    crates/greenai-meter/data/gcp_instances.tsv   machine types: vCPUs, memory, the platform's
                                                  vCPUs (the host the type shares), the host's
                                                  embodied emissions and its microarchitectures

Source: github.com/cloud-carbon-footprint/cloud-carbon-coefficients (Apache-2.0) at commit
dda7621f8ab227dcb45096af6ccc2227aaf92b3e: data/gcp-instances.csv (after Teads' dataset and
Google's machine-type pages) and output/coefficients-gcp-embodied.csv (CCF's embodied emissions
per type and microarchitecture, kgCO2e). Cloud Carbon Footprint publishes no Google Cloud package
on npm, so the repository is the source (data/SOURCES.md). Usage:

    python3 scripts/derive_gcp_instances.py COEFFICIENTS_CHECKOUT > crates/greenai-meter/data/gcp_instances.tsv

Standard library only. A type offered on several microarchitectures gets them all, in the
source's order, and the mean of their embodied figures; types with GPUs are left out (their host
emissions are mostly the GPUs', which greenai does not share by vCPU).
"""
import csv
import os
import sys

# The source's names -> greenai's curve family names.
ARCH = {
    "EPYC 1st Gen": "AMD EPYC 1st Gen",
    "EPYC 2nd Gen": "AMD EPYC 2nd Gen",
    "EPYC 3rd Gen": "AMD EPYC 3rd Gen",
}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: derive_gcp_instances.py COEFFICIENTS_CHECKOUT > gcp_instances.tsv")
    root = sys.argv[1]
    embodied = {}
    with open(os.path.join(root, "output/coefficients-gcp-embodied.csv"), newline="") as f:
        for row in csv.DictReader(f):
            embodied[(row["type"], row["microarchitecture"])] = float(row["total"])
    types = {}
    gpus = 0
    with open(os.path.join(root, "data/gcp-instances.csv"), newline="") as f:
        for row in csv.DictReader(f):
            name = row["Machine type"].strip()
            if float(row["Instance GPUs"] or 0) > 0:
                gpus += 1
                continue
            arch = row["Microarchitecture"].strip()
            t = types.setdefault(
                name,
                {
                    "vcpu": float(row["Instance vCPUs"]),
                    "mem": float(row["Instance Memory"]),
                    "host": float(row["Platform vCPUs (highest vCPU possible)"]),
                    "arch": [],
                    "kg": [],
                },
            )
            t["arch"].append(ARCH.get(arch, arch))
            if (name, arch) in embodied:
                t["kg"].append(embodied[(name, arch)])
    print("# instance\tvcpu\tmemory_gib\tfamily_max_vcpu\thost_embodied_kg\tmicroarchitectures")
    kept = 0
    for name, t in types.items():
        if not t["kg"] or t["host"] < t["vcpu"]:
            continue
        kg = sum(t["kg"]) / len(t["kg"])
        # Shared-core types have fractional vCPUs (e2-micro: 0.25); kept as given.
        print(
            f"{name}\t{t['vcpu']:g}\t{t['mem']:g}\t{t['host']:g}\t{kg:.1f}\t{';'.join(t['arch'])}"
        )
        kept += 1
    print(f"{kept} machine types; {gpus} rows with GPUs left out", file=sys.stderr)


if __name__ == "__main__":
    main()
