"""The seed's recipe in PyTorch, as the seed wrote it: LightweightNet (a 3×3 convolution to 16
channels, ReLU, one linear layer), Adam at 1e-3 constant, batch 64, 10 epochs over the 60,000
bundled MNIST training images reshuffled each epoch, then the 10,000 test images. Run under
`greenai run`, which measures the whole process. Prints one JSON line.
Usage: python seed_recipe.py [THREADS] [EPOCHS]"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
torch.set_num_threads(threads)
torch.manual_seed(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_data import idx, norm  # noqa: E402
from torch_models import LightweightNet  # noqa: E402

xtr, ytr = norm(idx("train-images-idx3-ubyte")), torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
xte, yte = norm(idx("t10k-images-idx3-ubyte")), torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))
model = LightweightNet()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
t = time.perf_counter()
for _ in range(epochs):
    model.train()
    order = torch.randperm(len(xtr))
    for i in range(0, len(xtr), 64):
        b = order[i: i + 64]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xtr[b]), ytr[b]).backward()
        opt.step()
train_s = time.perf_counter() - t
model.eval()
correct = 0
with torch.inference_mode():
    for i in range(0, len(xte), 64):
        correct += (model(xte[i: i + 64]).argmax(1) == yte[i: i + 64]).sum().item()
print(json.dumps({"tool": "pytorch-seed", "torch": torch.__version__, "epochs": epochs, "threads": threads,
                  "train_s": round(train_s, 2), "accuracy": correct / len(xte)}))
