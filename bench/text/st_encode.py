"""sentence-transformers' side of bench/text/run.sh: the same all-MiniLM-L6-v2 files, the same
sentences, on the CPU with THREADS threads; f32 and PyTorch's dynamic int8 (`quantize_dynamic` of
every nn.Linear, as for BERT in PyTorch's tutorial). Prints one JSON line: medians of PASSES timed
passes each, after a warm-up pass. Tokenizing is inside `encode`, as in greenai's figure."""
import json
import statistics
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

model_dir, path, threads, passes, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
texts = [l.rstrip("\n") for l in open(path, encoding="utf-8") if l.strip()]
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = 256


def rate(m):
    m.encode(texts[: 4 * batch], batch_size=batch)
    times = []
    for _ in range(passes):
        t = time.perf_counter()
        m.encode(texts, batch_size=batch)
        times.append(time.perf_counter() - t)
    return len(texts) / statistics.median(times)


f32 = rate(model)
q = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
int8 = rate(q)
print(json.dumps({
    "tool": "sentence-transformers",
    "torch": torch.__version__,
    "capability": torch.backends.cpu.get_cpu_capability(),
    "threads": threads,
    "batch": batch,
    "f32_sentences_per_s": f32,
    "dynamic_int8_sentences_per_s": int8,
}))
