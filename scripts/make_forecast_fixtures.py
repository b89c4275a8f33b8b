#!/usr/bin/env python3
"""Writes data/forecasts/: a synthetic week of hourly grid intensity, and the same hours as each
forecast service documents its JSON response.

SYNTHETIC: no published intensity series could be had from the package registries (the only
reachable sources), so the week is generated: a daily swing shaped like a wind-and-gas grid's
(night trough, midday solar dip, evening peak), weekends lower, and a slow weather front from a
seeded random walk. The numbers are plausible, not observed. Deterministic: run it again and the
files are the same bytes.
"""
import json
import math
import pathlib
import random
from datetime import datetime, timedelta, timezone

OUT = pathlib.Path(__file__).resolve().parent.parent / "data" / "forecasts"
START = datetime(2026, 11, 30, tzinfo=timezone.utc)  # a Monday
HOURS = 168


def week():
    rng = random.Random(20261130)
    front = 0.0
    values = []
    for h in range(HOURS):
        t = START + timedelta(hours=h)
        hod = t.hour
        daily = 60 * math.cos(2 * math.pi * (hod - 18) / 24)  # evening peak, early-morning trough
        solar = -35 * max(0.0, math.sin(math.pi * (hod - 8) / 8)) if 8 <= hod <= 16 else 0.0
        weekend = -30 if t.weekday() >= 5 else 0
        front = 0.92 * front + rng.gauss(0, 14)
        values.append(max(25, round(190 + daily + solar + weekend + front)))
    return values


def iso(t, seconds=True):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%MZ")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    v = week()
    times = [START + timedelta(hours=h) for h in range(HOURS)]
    with open(OUT / "week-hourly-synthetic.csv", "w") as f:
        f.write("timestamp,g_per_kwh\n")
        for t, x in zip(times, v):
            f.write(f"{iso(t)},{x}\n")
    day = list(zip(times, v))[:24]
    # Carbon Aware SDK: GET /emissions/forecasts/current?location=eastus (an array of forecasts).
    sdk = [{
        "generatedAt": iso(START),
        "requestedAt": iso(START),
        "location": "eastus",
        "dataStartAt": iso(START),
        "dataEndAt": iso(START + timedelta(hours=24)),
        "windowSize": 60,
        "optimalDataPoints": [],
        "forecastData": [
            {"location": "eastus", "timestamp": iso(t), "duration": 60, "value": float(x)} for t, x in day
        ],
    }]
    best = min(sdk[0]["forecastData"], key=lambda p: p["value"])
    sdk[0]["optimalDataPoints"] = [best]
    # Electricity Maps: GET /v3/carbon-intensity/forecast?zone=DE
    em = {
        "zone": "DE",
        "forecast": [
            {"carbonIntensity": x, "datetime": t.strftime("%Y-%m-%dT%H:%M:%S.000Z")} for t, x in day
        ],
        "updatedAt": iso(START),
    }
    # WattTime v3: GET /v3/forecast?region=CAISO_NORTH&signal_type=co2_moer (lbs CO2 per MWh,
    # five-minute points; here one an hour to keep the file short, with the period saying so).
    wt = {
        "data": [
            {"point_time": t.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "value": round(x / 0.45359237, 1)}
            for t, x in day
        ],
        "meta": {
            "data_point_period_seconds": 3600,
            "region": "CAISO_NORTH",
            "warnings": [],
            "signal_type": "co2_moer",
            "model": {"date": "2026-11-01"},
            "units": "lbs_co2_per_mwh",
            "generated_at_period_seconds": 300,
            "generated_at": iso(START),
        },
    }
    # UK Carbon Intensity API: GET /intensity/{from}/fw48h (half-hour periods, minutes only).
    uk_periods = []
    for t, x in day:
        for half in (0, 30):
            a = t + timedelta(minutes=half)
            uk_periods.append({
                "from": iso(a, seconds=False),
                "to": iso(a + timedelta(minutes=30), seconds=False),
                "intensity": {"forecast": x, "actual": None, "index": "moderate"},
            })
    uk = {"data": uk_periods}
    # ... and GET /regional/intensity/{from}/fw48h/regionid/13 (one region: data[0].data[]).
    uk_region = {"data": [{"regionid": 13, "dnoregion": "UKPN London", "shortname": "London",
                            "data": [dict(p, generationmix=[]) for p in uk_periods]}]}
    for name, doc in [("carbon-aware-sdk.json", sdk), ("electricity-maps.json", em),
                      ("watttime.json", wt), ("uk-carbon-intensity.json", uk),
                      ("uk-carbon-intensity-region.json", uk_region)]:
        with open(OUT / name, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
