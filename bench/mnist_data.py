"""The bundled MNIST (data/mnist/*.gz) for the PyTorch sides of the benchmarks, normalised as
greenai normalises it. Import with `sys.path.insert(0, <bench dir>)`."""
import gzip
from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).resolve().parents[1] / "data" / "mnist"


def idx(name):
    """An IDX file of the bundled MNIST as a numpy array (`name` without `.gz`)."""
    raw = gzip.decompress((DATA / f"{name}.gz").read_bytes())
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def norm(x):
    """uint8 images to a float tensor N×1×H×W with MNIST's mean and deviation, as greenai does."""
    return torch.from_numpy(((x.astype(np.float32) / 255.0) - 0.1307) / 0.3081).unsqueeze(1)
