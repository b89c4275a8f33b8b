#!/usr/bin/env python3
"""Derive greenai's carbon-intensity tables from CodeCarbon's data files.

Usage:
    pip download --no-deps codecarbon==3.3.2 -d /tmp/cc
    unzip -o /tmp/cc/codecarbon-3.3.2-py3-none-any.whl 'codecarbon/data/*' -d /tmp/cc
    python3 scripts/derive_carbon_tables.py /tmp/cc/codecarbon/data crates/greenai-carbon/data

Reads (all MIT, CodeCarbon 3.3.2):
  private_infra/global_energy_mix.json      per country: Our World in Data / Ember
  private_infra/2023/usa_emissions.json     per US state: EPA eGRID2023, lbs CO2e/MWh
  private_infra/2023/canada_energy_mix.json per province: generation mix (%)
  private_infra/carbon_intensity_per_source.json  gCO2e/kWh per generation source
  private_infra/2023/china_provincial_emissions.json
  private_infra/nordic_emissions.json       SE1-4, NO1-5: ENTSO-E 2025
  cloud/impact.csv                          GCP regions
and ISO 3166 codes and names from Debian's iso-codes (/usr/share/iso-codes/json).

Writes tab-separated tables: countries.tsv, subnational.tsv, cloud.tsv.
"""
import csv
import json
import os
import sys

src, dst = sys.argv[1], sys.argv[2]
ISO = "/usr/share/iso-codes/json"
LB_PER_MWH_TO_G_PER_KWH = 453.59237 / 1000.0  # 1 lb = 453.59237 g; 1 MWh = 1000 kWh

def load(p):
    with open(os.path.join(src, p), encoding="utf-8-sig") as f:
        return json.load(f)

iso1 = json.load(open(f"{ISO}/iso_3166-1.json"))["3166-1"]
a3_to_a2 = {c["alpha_3"]: c["alpha_2"] for c in iso1}
iso2 = json.load(open(f"{ISO}/iso_3166-2.json"))["3166-2"]
sub_by_name = {}
for s in iso2:
    sub_by_name[(s["code"][:2], s["name"].lower())] = s["code"]

OWID = "Our World in Data / Ember, via codecarbon 3.3.2 global_energy_mix.json"
countries = {}
meta = {}  # grid code -> (year, source)
with open(os.path.join(dst, "countries.tsv"), "w") as out:
    out.write("# alpha3\talpha2\tname\tg_per_kwh\tyear\tsource\n")
    for a3, v in sorted(load("private_infra/global_energy_mix.json").items()):
        ci = v.get("carbon_intensity")
        a2 = a3_to_a2.get(a3)
        # A zero means no data (no country's grid emits nothing); such rows are left out.
        if not a2 or ci is None or ci <= 0:
            print(f"skipped country {a3} ({v.get('country_name')}): intensity {ci}, alpha2 {a2}", file=sys.stderr)
            continue
        countries[a2] = ci
        meta[a2] = (v["year"], OWID)
        out.write(f"{a3}\t{a2}\t{v['country_name']}\t{ci:g}\t{v['year']}\t{OWID}\n")

per_source = load("private_infra/carbon_intensity_per_source.json")
factor = {"naturalGas": per_source["natural_gas"], "nuclear": per_source["nuclear"],
          "petroleum": per_source["petroleum"], "biomass": per_source["biomass"],
          "coal": per_source["coal"], "solar": per_source["solar"], "tidal": per_source["hydroelectricity"],
          "wind": per_source["wind"], "hydro": per_source["hydroelectricity"], "other": 0.0}

sub = {}
with open(os.path.join(dst, "subnational.tsv"), "w") as out:
    out.write("# code\tname\tg_per_kwh\tyear\tsource\n")
    usa = load("private_infra/2023/usa_emissions.json")
    usrc = usa["_source"]
    for name, v in sorted(usa.items()):
        # The national row duplicates the country table's US entry.
        if name.startswith("_") or len(v["regionCode"]) != 2:
            continue
        code = f"US-{v['regionCode']}"
        g = round(v["emissions"] * LB_PER_MWH_TO_G_PER_KWH, 2)
        sub[code] = g
        meta[code] = (usrc["year"], f"{usrc['name']} ({usrc['field']}), via codecarbon 3.3.2")
        out.write(f"{code}\t{name.title()}\t{g:g}\t{usrc['year']}\t{usrc['name']} ({usrc['field']}), via codecarbon 3.3.2\n")
    for name, mix in sorted(load("private_infra/2023/canada_energy_mix.json").items()):
        code = sub_by_name.get(("CA", name.lower()))
        if not code:
            print(f"skipped Canadian province {name}", file=sys.stderr)
            continue
        total = mix["total"]
        g = round(sum(mix[k] / total * factor[k] for k in factor if k in mix), 2)
        sub[code] = g
        meta[code] = (2023, "generation mix (codecarbon 3.3.2 canada_energy_mix.json) × per-source factors")
        out.write(f"{code}\t{name.title()}\t{g:g}\t2023\tgeneration mix (codecarbon 3.3.2 canada_energy_mix.json) × per-source factors (carbon_intensity_per_source.json)\n")
    for code, v in sorted(load("private_infra/2023/china_provincial_emissions.json")["data"].items()):
        sub[code] = v["emission_factor"]
        meta[code] = (v["year"], "codecarbon 3.3.2 china_provincial_emissions.json")
        out.write(f"{code}\t{v['description']}\t{v['emission_factor']:g}\t{v['year']}\tcodecarbon 3.3.2 china_provincial_emissions.json\n")
    for code, v in sorted(load("private_infra/nordic_emissions.json")["data"].items()):
        if len(code) == 2:  # FI is a whole country: the country table covers it
            continue
        sub[code] = v["emission_factor"]
        meta[code] = (v["year"], "ENTSO-E A75 production mix, via codecarbon 3.3.2 nordic_emissions.json")
        out.write(f"{code}\t{v['description']}\t{v['emission_factor']:g}\t{v['year']}\tENTSO-E A75 production mix, via codecarbon 3.3.2 nordic_emissions.json\n")

# Where AWS and Azure regions are (the providers' region documentation); their grid is the
# country's, or the US state's, Canadian province's or Nordic zone's where one is known.
AWS = {
    "us-east-1": "US-VA", "us-east-2": "US-OH", "us-west-1": "US-CA", "us-west-2": "US-OR",
    "us-gov-east-1": "US-OH", "us-gov-west-1": "US-OR", "af-south-1": "ZA", "ap-east-1": "HK",
    "ap-south-1": "IN", "ap-south-2": "IN", "ap-northeast-1": "JP", "ap-northeast-2": "KR",
    "ap-northeast-3": "JP", "ap-southeast-1": "SG", "ap-southeast-2": "AU", "ap-southeast-3": "ID",
    "ap-southeast-4": "AU", "ca-central-1": "CA-QC", "ca-west-1": "CA-AB", "eu-central-1": "DE",
    "eu-central-2": "CH", "eu-west-1": "IE", "eu-west-2": "GB", "eu-west-3": "FR",
    "eu-north-1": "SE3", "eu-south-1": "IT", "eu-south-2": "ES", "il-central-1": "IL",
    "me-south-1": "BH", "me-central-1": "AE", "sa-east-1": "BR",
}
AZURE = {
    "eastus": "US-VA", "eastus2": "US-VA", "centralus": "US-IA", "northcentralus": "US-IL",
    "southcentralus": "US-TX", "westus": "US-CA", "westus2": "US-WA", "westus3": "US-AZ",
    "westcentralus": "US-WY", "canadacentral": "CA-ON", "canadaeast": "CA-QC", "brazilsouth": "BR",
    "northeurope": "IE", "westeurope": "NL", "uksouth": "GB", "ukwest": "GB", "francecentral": "FR",
    "germanywestcentral": "DE", "switzerlandnorth": "CH", "norwayeast": "NO1", "swedencentral": "SE3",
    "polandcentral": "PL", "italynorth": "IT", "spaincentral": "ES", "eastasia": "HK",
    "southeastasia": "SG", "japaneast": "JP", "japanwest": "JP", "koreacentral": "KR",
    "centralindia": "IN", "southindia": "IN", "australiaeast": "AU", "australiasoutheast": "AU",
    "southafricanorth": "ZA", "uaenorth": "AE", "qatarcentral": "QA", "israelcentral": "IL",
}
with open(os.path.join(dst, "cloud.tsv"), "w") as out:
    out.write("# provider\tregion\tgrid\tlocation\tg_per_kwh\tyear\tsource\n")
    with open(os.path.join(src, "cloud/impact.csv"), encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            a2 = a3_to_a2.get(r["countryIsoCode"], "")
            loc = ", ".join(x for x in (r["city"], r["state"], r["country_name"]) if x)
            out.write(f"gcp\t{r['region']}\t{a2}\t{loc}\t{float(r['impact']):g}\t2022\tGoogle Cloud region carbon data ({r['source']}), via codecarbon 3.3.2 cloud/impact.csv\n")
    for provider, table in (("aws", AWS), ("azure", AZURE)):
        for region, grid in sorted(table.items()):
            g = sub.get(grid, countries.get(grid))
            if g is None:
                print(f"skipped {provider}:{region}: no intensity for grid {grid}", file=sys.stderr)
                continue
            year, source = meta[grid]
            out.write(f"{provider}\t{region}\t{grid}\t{grid} grid\t{g:g}\t{year}\tthe {grid} grid: {source}; region location from {provider}'s region list\n")
