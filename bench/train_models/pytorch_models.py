"""PyTorch's side of bench/train_models: the same model as greenai's (crates/greenai-nn/src/models.rs),
one epoch on the same bundled MNIST (batch 64, Adam 1e-3, the same normalisation), then inference
over the test set in eval mode with BatchNorm folded into the convolutions (as greenai folds it),
timed two ways, as greenai's bench_train example does:
- one_batch: one batch of 64 at a time on THREADS intra-op threads;
- batch_per_thread: THREADS single-threaded processes, each over its share of the test set in
  batches of 64, timed from the first start to the last end.
Both sides normalise the raw bytes inside their timers. Prints one JSON line.
Usage: python pytorch_models.py MODEL THREADS [TRAIN_SAMPLES]"""
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
import torch

name = sys.argv[1] if len(sys.argv) > 1 else "lightweight"
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_data import idx  # noqa: E402
from torch_models import MODELS, fold_batchnorm  # noqa: E402

MEAN, STD = 0.1307, 0.3081


def norm(raw):
    """uint8 N×28×28 → float N×1×28×28, as bench/mnist_data.norm, per batch inside the timers."""
    return ((raw.float() / 255.0 - MEAN) / STD).unsqueeze(1)


xtr, ytr = torch.from_numpy(idx("train-images-idx3-ubyte").copy()), torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
xte, yte = torch.from_numpy(idx("t10k-images-idx3-ubyte").copy()), torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))


def share_worker(model, lo, hi, barrier, out):
    torch.set_num_threads(1)
    barrier.wait()
    t0, correct = time.perf_counter(), 0
    with torch.inference_mode():
        for i in range(lo, hi, 64):
            j = min(i + 64, hi)
            correct += (model(norm(xte[i:j])).argmax(1) == yte[i:j]).sum().item()
    out.put((t0, time.perf_counter(), correct))


def main():
    n = min(int(sys.argv[3]) if len(sys.argv) > 3 else len(xtr), len(xtr))
    model = MODELS[name]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(len(xtr))[:n]
    t = time.perf_counter()
    model.train()
    for i in range(0, n, 64):
        b = order[i: i + 64]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(norm(xtr[b])), ytr[b]).backward()
        opt.step()
    train_s = time.perf_counter() - t
    model.eval()
    fold_batchnorm(model)

    t, correct = time.perf_counter(), 0
    with torch.inference_mode():
        for i in range(0, len(xte), 64):
            correct += (model(norm(xte[i: i + 64])).argmax(1) == yte[i: i + 64]).sum().item()
    one_batch_s = time.perf_counter() - t

    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(threads), ctx.Queue()
    per = -(-len(xte) // threads)
    procs = [ctx.Process(target=share_worker, args=(model, k * per, min((k + 1) * per, len(xte)), barrier, out))
             for k in range(threads)]
    for p in procs:
        p.start()
    spans = [out.get() for _ in procs]
    for p in procs:
        p.join()
    per_thread_s = max(s[1] for s in spans) - min(s[0] for s in spans)
    assert sum(s[2] for s in spans) == correct, "the two modes disagree"
    print(json.dumps({"tool": "pytorch", "model": name, "params": sum(p.numel() for p in model.parameters()),
                      "torch": torch.__version__, "threads": threads,
                      "train_samples_per_s": round(n / train_s, 1),
                      "one_batch_samples_per_s": round(len(xte) / one_batch_s, 1),
                      "batch_per_thread_samples_per_s": round(len(xte) / per_thread_s, 1),
                      "test_accuracy": round(correct / len(xte), 4)}))


if __name__ == "__main__":
    main()
