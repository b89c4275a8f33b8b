#!/usr/bin/env python3
"""Energy to reach a stated Fashion-MNIST test accuracy: transfer learning from EfficientNet-Lite0's
ImageNet weights (`greenai transfer`) against training `mobilenet` and `cnn` from scratch
(`greenai train`), all measured by greenai in the same run, and the ratio.

What counts as "energy to reach the accuracy" is the training energy of each recipe, the same on
both sides: for transfer, the frozen backbone's pass over the training images plus the head's
training (the feature cache is empty for every run, so the pass is always paid); for training from
scratch, the training epochs. Evaluation on the 10,000 test images is measured but not counted on
either side.

Each recipe grows until it reaches the target: transfer uses the first N training images for N in
--train-samples (twice: the frozen pass in f32, and in int8 with `--int8`, unless --no-int8); from scratch trains 1, 2, ... --max-epochs epochs on all 60,000. The cheapest
recipe of each kind that reaches the target is kept; the figures are medians over --runs.

Set-up: the weights (python3 scripts/convert_efficientnet_lite0.py) and Fashion-MNIST
(apt install dataset-fashion-mnist). Standard library only. Run:
    cargo build --release -p greenai-cli
    python3 bench/transfer/energy_to_accuracy.py [--target 0.85] [--runs 3]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def greenai(binary, db, args):
    cmd = [binary, "--db", db] + args + ["--json", "--region", "FR"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout)


def transfer(opts, db, n, int8=False):
    r = greenai(
        opts.greenai,
        db,
        [
            "transfer",
            "--data", opts.data,
            "--input-size", str(opts.input_size),
            "--train-samples", str(n),
            "--test-samples", "10000",
            "--epochs", str(opts.head_epochs),
        ] + (["--int8"] if int8 else []),
    )
    # The test set's features are cached by the first run of a repetition; the training images'
    # never are (each N is a new key and every repetition has its own database directory).
    assert r["train_samples"] == n
    return r


def scratch(opts, db, model, epochs):
    return greenai(
        opts.greenai,
        db,
        ["train", "--model", model, "--epochs", str(epochs), "--validation", "0", "--data", opts.data],
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", type=float, default=0.85)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--head-epochs", type=int, default=30)
    p.add_argument("--train-samples", default="2000,4000,8000,16000")
    p.add_argument("--models", default="mobilenet,cnn")
    p.add_argument("--max-epochs", type=int, default=3)
    p.add_argument("--no-int8", action="store_true",
                   help="leave out the transfer recipe whose frozen pass runs in int8 (--int8)")
    p.add_argument("--greenai", default=os.path.join(ROOT, "target/release/greenai"))
    opts = p.parse_args()
    if not os.path.exists(opts.greenai):
        sys.exit(f"{opts.greenai} is missing: cargo build --release -p greenai-cli")
    if not os.path.isdir(opts.data):
        sys.exit(f"{opts.data} is missing: apt install dataset-fashion-mnist, or pass --data DIR")

    results = {}  # recipe kind -> list of (label, accuracy, training J) per run
    provenances = set()  # what greenai said of every energy figure used

    def first_reaching(run, kind, recipes):
        """Runs `recipes` ((label, thunk, detail) in growing cost) until one reaches the target."""
        for label, go, detail in recipes:
            r = go()
            provenances.add(r["provenance"])
            print(
                f"run {run + 1} {label}: accuracy {r['accuracy']:.4f}, training "
                f"{r['training_energy_j']:.1f} J{detail(r)}, {r['provenance']}",
                flush=True,
            )
            if r["accuracy"] >= opts.target:
                results.setdefault(kind, []).append((label, r["accuracy"], r["training_energy_j"]))
                return
        results.setdefault(kind, []).append(None)

    for run in range(opts.runs):
        db_dir = tempfile.mkdtemp(prefix="greenai-transfer-bench-")
        db = os.path.join(db_dir, "greenai.db")
        try:
            for kind, int8 in [("transfer", False), ("transfer-int8", True)]:
                if int8 and opts.no_int8:
                    continue
                first_reaching(run, kind, [
                    (f"{kind} N={n}", lambda n=n, int8=int8: transfer(opts, db, n, int8),
                     lambda r: f" (features {r['train_feature_energy_j']:.1f} J, head {r['head_training_energy_j']:.1f} J)")
                    for n in (int(v) for v in opts.train_samples.split(","))
                ])
            for model in filter(None, opts.models.split(",")):
                first_reaching(run, model, [
                    (f"{model} {e} epoch(s)", lambda e=e: scratch(opts, db, model, e), lambda r: "")
                    for e in range(1, opts.max_epochs + 1)
                ])
        finally:
            shutil.rmtree(db_dir, ignore_errors=True)

    print(f"\nTraining energy to reach Fashion-MNIST test accuracy {opts.target} "
          f"(medians of {opts.runs} runs; energy {'/'.join(sorted(provenances))} by greenai, "
          f"same machine, same run):")
    medians = {}
    for kind, rs in results.items():
        ok = [r for r in rs if r is not None]
        if len(ok) < len(rs):
            print(f"  {kind:<10} did not reach the target in {len(rs) - len(ok)} of {len(rs)} runs")
        if not ok:
            continue
        medians[kind] = statistics.median(r[2] for r in ok)
        recipes = ", ".join(sorted({r[0] for r in ok}))
        accs = statistics.median(r[1] for r in ok)
        print(f"  {kind:<13} {medians[kind]:>8.1f} J  ({recipes}; accuracy {accs:.4f})")
    for base in ("transfer", "transfer-int8"):
        if base in medians:
            for kind, j in medians.items():
                if not kind.startswith("transfer"):
                    print(f"  ratio {kind} / {base}: {j / medians[base]:.2f}")
    if "transfer" in medians and "transfer-int8" in medians:
        print(f"  ratio transfer / transfer-int8: {medians['transfer'] / medians['transfer-int8']:.2f}")


if __name__ == "__main__":
    main()
