"""PyTorch's side of bench/int8: the same trained weights as greenai's checkpoint (read from its
safetensors file without the safetensors package), evaluated on the bundled MNIST test set at batch
64 in f32 (the raw bytes normalised inside the timer, as greenai's side does), with dynamic int8 quantization (torch.ao.quantization.quantize_dynamic on the linear
layers) and with static int8 quantization (x86 backend: convolution and linear layers fused with
their ReLU, activation ranges observed on the first 1,000 training images, as greenai calibrates).
Medians of ROUNDS timed passes; one JSON line.
Usage: python pytorch_int8.py CHECKPOINT MODEL THREADS [ROUNDS]   (MODEL: lenet, lightweight or cnn)"""
import copy
import json
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.ao import quantization as tq

ckpt, name = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
torch.set_num_threads(threads)
torch.backends.quantized.engine = "x86"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_data import idx, norm  # noqa: E402
nn = torch.nn


def safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8: 8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(raw, dtype="<f4", count=(b - a) // 4, offset=8 + n + a).copy()).reshape(v["shape"])
    return out


class Lenet(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv1, self.relu1 = nn.Conv2d(1, 6, 5, padding=2), nn.ReLU()
        self.conv2, self.relu2 = nn.Conv2d(6, 16, 5), nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1, self.relu3 = nn.Linear(400, 120), nn.ReLU()
        self.fc2, self.relu4 = nn.Linear(120, 84), nn.ReLU()
        self.fc3 = nn.Linear(84, 10)
        self.fuse = [["conv1", "relu1"], ["conv2", "relu2"], ["fc1", "relu3"], ["fc2", "relu4"]]

    def forward(self, x):
        x = self.pool(self.relu1(self.conv1(self.quant(x))))
        x = self.pool(self.relu2(self.conv2(x))).flatten(1)
        return self.dequant(self.fc3(self.relu4(self.fc2(self.relu3(self.fc1(x))))))


class Lightweight(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv, self.relu = nn.Conv2d(1, 16, 3, padding=1), nn.ReLU()
        self.fc = nn.Linear(16 * 28 * 28, 10)
        self.fuse = [["conv", "relu"]]

    def forward(self, x):
        return self.dequant(self.fc(self.relu(self.conv(self.quant(x))).flatten(1)))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv1, self.relu1 = nn.Conv2d(1, 32, 3, padding=1), nn.ReLU()
        self.conv2, self.relu2 = nn.Conv2d(32, 64, 3, padding=1), nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1, self.relu3 = nn.Linear(64 * 7 * 7, 128), nn.ReLU()
        self.fc2 = nn.Linear(128, 10)
        self.fuse = [["conv1", "relu1"], ["conv2", "relu2"], ["fc1", "relu3"]]

    def forward(self, x):
        x = self.pool(self.relu1(self.conv1(self.quant(x))))
        x = self.pool(self.relu2(self.conv2(x))).flatten(1)
        return self.dequant(self.fc2(self.relu3(self.fc1(x))))


model = {"lenet": Lenet, "lightweight": Lightweight, "cnn": Cnn}[name]()
# greenai names its tensors as these modules are named, with the same shapes.
tensors = safetensors(ckpt)
with torch.no_grad():
    for n, p in model.named_parameters():
        t = tensors.get(n)
        if t is None or tuple(t.shape) != tuple(p.shape):
            sys.exit(f"{ckpt}: no tensor {n} of shape {tuple(p.shape)}; is it a {name} checkpoint?")
        p.copy_(t)
model.eval()

# The raw bytes, normalised per batch inside the timer, as greenai's side does.
xte, yte = torch.from_numpy(idx("t10k-images-idx3-ubyte").copy()), torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))


def normed(raw):
    return ((raw.float() / 255.0 - 0.1307) / 0.3081).unsqueeze(1)


calib = norm(idx("train-images-idx3-ubyte")[:1000])


def timed(m):
    speeds, acc = [], 0.0
    with torch.inference_mode():
        for _ in range(rounds):
            correct = 0
            t = time.perf_counter()
            for i in range(0, len(xte), 64):
                correct += (m(normed(xte[i: i + 64])).argmax(1) == yte[i: i + 64]).sum().item()
            speeds.append(len(xte) / (time.perf_counter() - t))
            acc = correct / len(xte)
    return statistics.median(speeds), acc


dynamic = tq.quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)
static = copy.deepcopy(model)
static = tq.fuse_modules(static, static.fuse)
static.qconfig = tq.get_default_qconfig("x86")
tq.prepare(static, inplace=True)
with torch.inference_mode():
    for i in range(0, len(calib), 64):
        static(calib[i: i + 64])
tq.convert(static, inplace=True)
out = {"tool": "pytorch", "torch": torch.__version__, "model": name, "threads": threads}
for label, m in [("f32", model), ("dynamic_int8", dynamic), ("static_int8", static)]:
    s, a = timed(m)
    out[f"{label}_inference_samples_per_s"] = round(s)
    out[f"{label}_accuracy"] = round(a, 4)
print(json.dumps(out))
