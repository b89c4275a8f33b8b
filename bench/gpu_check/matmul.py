"""A steady GPU load for the meter's GPU check: bf16 matrix products for DURATION_S seconds.
Usage: python3 matmul.py [DURATION_S]. Prints the achieved TFLOP/s. Changes no card setting."""
import sys
import time

import torch

duration = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
n = 8192
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
torch.cuda.synchronize()
t0 = time.monotonic()
iters = 0
while time.monotonic() - t0 < duration:
    for _ in range(20):
        c = a @ b
    torch.cuda.synchronize()
    iters += 20
dt = time.monotonic() - t0
print(f"{iters} products of {n}x{n} bf16 in {dt:.1f} s: {2 * n**3 * iters / dt / 1e12:.0f} TFLOP/s", flush=True)
