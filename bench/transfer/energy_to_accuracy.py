#!/usr/bin/env python3
"""Energy to accuracy on Fashion-MNIST: transfer learning from EfficientNet-Lite0's ImageNet weights
(`greenai transfer`, the frozen pass in f32 and in int8) against training `mobilenet` and `cnn` from
scratch (`greenai train`), all measured by greenai in the same run, for a sweep of targets.

On equal terms (issue 26):
- Every decision reads held-out *validation* images, the last --validation of the training set
  (1,000 by default, on both sides); the test set only reports the accuracy of the model the job
  stopped with. The transfer head's learning rate is chosen on validation accuracy (--select-lr),
  and that choice's energy is reported with it.
- The same granularity of stopping on both sides: energy to accuracy as Zeus defines it. Both
  train with `--target-accuracy` checked every --check-every steps of batch 64 on the same number of
  validation images, and stop at the first check that reaches it. Transfer computes the backbone's
  features a chunk of 1,024 images at a time as its head trains, so it pays the backbone only for
  the images it used (`greenai transfer --target-accuracy`).
- Every pass counts: the energy to a target is the whole job's energy from its start to the check
  that reached it (loading, the validation images' features, the training, the checks). The job's
  total, with the final test evaluation (the backbone over the 10,000 test images, or the network's
  forward pass), is reported beside it.
- A sweep: each run trains to the highest target; the first check at or above each lower target
  in the same run gives that target's energy (the run would have stopped there).

Set-up: the weights (python3 scripts/convert_efficientnet_lite0.py) and Fashion-MNIST
(apt install dataset-fashion-mnist). Standard library only. Run:
    cargo build --release -p greenai-cli
    python3 bench/transfer/energy_to_accuracy.py [--targets 0.80,0.83,0.85,0.87] [--runs 3]
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


def target_of(r):
    """The target report of a transfer (top level) or train (under `training`) JSON report."""
    return r.get("target") or (r.get("training") or {}).get("target")


def sweep(r, targets):
    """Energy (J) at the first check at or above each target, or None where none was."""
    log = (target_of(r) or {}).get("log", [])
    out = {}
    for t in targets:
        hit = next((c for c in log if c["accuracy"] >= t and c["energy_j"] is not None), None)
        out[t] = None if hit is None else hit["energy_j"]
    return out


def transfer(o, db, top, lr, int8):
    return greenai(o.greenai, db, [
        "transfer", "--data", o.data, "--input-size", str(o.input_size),
        "--train-samples", str(o.transfer_samples), "--validation", str(o.validation),
        "--test-samples", "10000", "--epochs", str(o.max_epochs), "--lr", str(lr),
        "--target-accuracy", str(top), "--check-every", str(o.check_every),
    ] + (["--int8"] if int8 else []))


def scratch(o, db, model, top):
    return greenai(o.greenai, db, [
        "train", "--model", model, "--epochs", str(o.max_epochs), "--validation", str(o.validation),
        "--target-accuracy", str(top), "--check-every", str(o.check_every), "--data", o.data,
    ])


def select_lr(o, db, rates):
    """The head's learning rate with the best validation accuracy (no target: N images, all
    epochs), on a database of its own so that its feature cache serves only the selection."""
    best, spent = None, 0.0
    for lr in rates:
        r = greenai(o.greenai, db, [
            "transfer", "--data", o.data, "--input-size", str(o.input_size),
            "--train-samples", str(o.select_samples), "--validation", str(o.validation),
            "--test-samples", "1", "--epochs", "30", "--lr", str(lr), "--int8",
        ])
        spent += r["energy_j"]
        print(f"select lr {lr}: validation accuracy {r['validation_accuracy']:.4f} "
              f"({o.select_samples} images, int8 features), job {r['energy_j']:.1f} J", flush=True)
        if best is None or r["validation_accuracy"] > best[1]:
            best = (lr, r["validation_accuracy"])
    return best[0], spent


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", default="0.80,0.83,0.85,0.87")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--validation", type=int, default=1000)
    p.add_argument("--check-every", type=int, default=50)
    p.add_argument("--max-epochs", type=int, default=3)
    p.add_argument("--transfer-samples", type=int, default=16000,
                   help="training images the transfer head may stream (the backbone's pass is the cost)")
    p.add_argument("--select-lr", default="3e-4,1e-3,3e-3",
                   help="head learning rates tried on validation accuracy ('' keeps 1e-3)")
    p.add_argument("--select-samples", type=int, default=4000)
    p.add_argument("--models", default="mobilenet,cnn")
    p.add_argument("--no-int8", action="store_true")
    p.add_argument("--greenai", default=os.path.join(ROOT, "target/release/greenai"))
    o = p.parse_args()
    if not os.path.exists(o.greenai):
        sys.exit(f"{o.greenai} is missing: cargo build --release -p greenai-cli")
    if not os.path.isdir(o.data):
        sys.exit(f"{o.data} is missing: apt install dataset-fashion-mnist, or pass --data DIR")
    targets = sorted(float(t) for t in o.targets.split(","))
    top = targets[-1]

    lr, select_j = 1e-3, 0.0
    if o.select_lr:
        d = tempfile.mkdtemp(prefix="greenai-transfer-select-")
        try:
            lr, select_j = select_lr(o, os.path.join(d, "greenai.db"), [float(v) for v in o.select_lr.split(",")])
        finally:
            shutil.rmtree(d, ignore_errors=True)
        print(f"chosen on validation: lr {lr} (the selection's jobs spent {select_j:.1f} J)", flush=True)

    recipes = [("transfer-f32", lambda db: transfer(o, db, top, lr, False))]
    if not o.no_int8:
        recipes.append(("transfer-int8", lambda db: transfer(o, db, top, lr, True)))
    recipes += [(m, lambda db, m=m: scratch(o, db, m, top)) for m in filter(None, o.models.split(","))]

    rows = {name: [] for name, _ in recipes}  # name -> per run: (sweep, job J, test accuracy, images)
    provenances = set()
    for run in range(o.runs):
        order = recipes if run % 2 == 0 else list(reversed(recipes))
        for name, go in order:
            d = tempfile.mkdtemp(prefix="greenai-transfer-bench-")  # an empty feature cache
            try:
                r = go(os.path.join(d, "greenai.db"))
            finally:
                shutil.rmtree(d, ignore_errors=True)
            provenances.add(r["provenance"])
            s = sweep(r, targets)
            t = target_of(r) or {}
            images = r.get("train_samples")
            rows[name].append((s, r["energy_j"], r["accuracy"], images))
            reached = ", ".join(f"{k}: {'-' if v is None else f'{v:.0f} J'}" for k, v in s.items())
            print(f"run {run + 1} {name}: {reached}; stopped at step {t.get('step')} "
                  f"({t.get('checks')} checks), test accuracy {r['accuracy']:.4f}, job with the test pass "
                  f"{r['energy_j']:.1f} J, {r['provenance']}"
                  + (f", {images} training images through the backbone" if name.startswith("transfer") else ""),
                  flush=True)

    print(f"\nEnergy to validation accuracy on Fashion-MNIST (medians of {o.runs} runs, [range]; "
          f"energy {'/'.join(sorted(provenances))} by greenai; checks every {o.check_every} steps on "
          f"{o.validation} validation images; transfer head lr {lr} chosen on validation, selection "
          f"{select_j:.0f} J not included):")
    head = f"  {'recipe':<14}" + "".join(f"{t:>20}" for t in targets) + f"{'job incl. test':>20}{'test acc.':>10}"
    print(head)
    med = {}
    for name, rs in rows.items():
        cells = []
        for t in targets:
            v = [x[0][t] for x in rs if x[0][t] is not None]
            if len(v) < len(rs):
                cells.append(f"{len(rs) - len(v)}/{len(rs)} missed" if not v else
                             f"{statistics.median(v):.0f} ({len(rs) - len(v)} missed)")
            else:
                med[(name, t)] = statistics.median(v)
                cells.append(f"{med[(name, t)]:.0f} [{min(v):.0f}-{max(v):.0f}]")
        jobs = [x[1] for x in rs]
        acc = statistics.median(x[2] for x in rs)
        print(f"  {name:<14}" + "".join(f"{c:>20}" for c in cells) + f"{statistics.median(jobs):>20.0f}{acc:>10.4f}")
    print("\n  ratios of the medians (from scratch / transfer; above 1: transfer spent less):")
    for base in ("transfer-f32", "transfer-int8"):
        for name in rows:
            if name.startswith("transfer"):
                continue
            cells = [f"{med[(name, t)] / med[(base, t)]:.2f}" if (name, t) in med and (base, t) in med else "-"
                     for t in targets]
            print(f"  {name + ' / ' + base:<30}" + "".join(f"{c:>8}" for c in cells))


if __name__ == "__main__":
    main()
