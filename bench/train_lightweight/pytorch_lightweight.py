"""PyTorch's side of bench/train_lightweight: the seed's LightweightNet, one epoch on the same
bundled MNIST (batch 64, Adam 1e-3, the same normalisation), then inference over the test set at
batch 64, timed. Prints one JSON line. Usage: python pytorch_lightweight.py THREADS [TRAIN_SAMPLES]"""
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
data = Path(__file__).resolve().parents[2] / "data" / "mnist"


def idx(name):
    raw = gzip.decompress((data / f"{name}.gz").read_bytes())
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def norm(x):
    return torch.from_numpy(((x.astype(np.float32) / 255.0) - 0.1307) / 0.3081).unsqueeze(1)


xtr, ytr = norm(idx("train-images-idx3-ubyte")), torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
xte, yte = norm(idx("t10k-images-idx3-ubyte")), torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))
n = min(int(sys.argv[2]) if len(sys.argv) > 2 else len(xtr), len(xtr))


class LightweightNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16 * 28 * 28, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


model = LightweightNet()
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
print(json.dumps({"tool": "pytorch", "torch": torch.__version__, "threads": threads,
                  "train_samples_per_s": round(n / train_s, 1),
                  "inference_samples_per_s": round(len(xte) / infer_s, 1),
                  "test_accuracy": round(correct / len(xte), 4)}))
