#!/usr/bin/env python3
"""Writes crates/greenai-carbon/tests/upstream-excerpt.json: a few entries of CodeCarbon 3.3.2's
data files copied verbatim (MIT), the upstream values greenai's tables were derived from
(scripts/derive_carbon_tables.py), so that a test derives those rows again from the source instead
of from greenai's own tables.

    pip download --no-deps codecarbon==3.3.2 -d /tmp/cc
    unzip -o /tmp/cc/codecarbon-3.3.2-py3-none-any.whl 'codecarbon/data/*' -d /tmp/cc
    python3 scripts/excerpt_carbon_upstream.py /tmp/cc/codecarbon/data
"""
import json
import sys

d = sys.argv[1] + "/"
g = json.load(open(d + "private_infra/global_energy_mix.json", encoding="utf-8-sig"))
u = json.load(open(d + "private_infra/2023/usa_emissions.json", encoding="utf-8-sig"))
out = {
    "_what": "Verbatim excerpts of CodeCarbon 3.3.2's data files (MIT), made by scripts/excerpt_carbon_upstream.py: the upstream values greenai's carbon tables were derived from, for a test that derives them again.",
    "global_energy_mix.json": {
        k: {kk: g[k][kk] for kk in ("country_name", "carbon_intensity", "year")}
        for k in ("FRA", "DEU", "USA", "IND", "NOR", "POL")
    },
    "usa_emissions.json": {k: u[k] for k in ("california", "texas", "vermont", "_source")},
}
json.dump(out, open("crates/greenai-carbon/tests/upstream-excerpt.json", "w"), indent=1, ensure_ascii=False)
