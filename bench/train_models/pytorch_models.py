"""PyTorch's side of bench/train_models: the same model as greenai's (crates/greenai-nn/src/models.rs),
one epoch on the same bundled MNIST (batch 64, Adam 1e-3, the same normalisation), then inference
over the test set at batch 64 in eval mode, timed. Prints one JSON line.
Usage: python pytorch_models.py MODEL THREADS [TRAIN_SAMPLES]"""
import json
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
from mnist_data import idx, norm  # noqa: E402
from torch_models import MODELS  # noqa: E402


xtr, ytr = norm(idx("train-images-idx3-ubyte")), torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
xte, yte = norm(idx("t10k-images-idx3-ubyte")), torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))
n = min(int(sys.argv[3]) if len(sys.argv) > 3 else len(xtr), len(xtr))
model = MODELS[name]()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
order = torch.randperm(len(xtr))[:n]
t = time.perf_counter()
model.train()
for i in range(0, n, 64):
    b = order[i: i + 64]
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(xtr[b]), ytr[b]).backward()
    opt.step()
train_s = time.perf_counter() - t
model.eval()
t = time.perf_counter()
correct = 0
with torch.inference_mode():
    for i in range(0, len(xte), 64):
        correct += (model(xte[i: i + 64]).argmax(1) == yte[i: i + 64]).sum().item()
infer_s = time.perf_counter() - t
print(json.dumps({"tool": "pytorch", "model": name, "params": sum(p.numel() for p in model.parameters()), "torch": torch.__version__, "threads": threads,
                  "train_samples_per_s": round(n / train_s, 1),
                  "inference_samples_per_s": round(len(xte) / infer_s, 1),
                  "test_accuracy": round(correct / len(xte), 4)}))
