#!/usr/bin/python3
"""PyTorch side of bench/small_ops.lua: adds/s of 4x4 tensors (without and
with autograd), and matmul GFLOP/s.  Usage: small_ops_torch.py THREADS ops|matmul N"""
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[1]))
what = sys.argv[2] if len(sys.argv) > 2 else "ops"
if what == "ops":
    # the best of five rounds of 2e5 adds, as bench/small_ops.lua does
    a, b = torch.randn(4, 4), torch.randn(4, 4)

    def rate():
        n, best = 200000, 0.0
        for _ in range(1000):
            a + b
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(n):
                a + b
            best = max(best, n / (time.perf_counter() - t0))
        return best

    plain = rate()
    a.requires_grad_(True)
    grad = rate()
    print("%.0f %.0f" % (plain, grad))
else:
    n = int(sys.argv[3])
    a, b = torch.randn(n, n), torch.randn(n, n)
    reps = 2000 if n <= 128 else (50 if n <= 512 else 10)
    for _ in range(3):
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    print("%.2f" % (2 * n ** 3 / ((time.perf_counter() - t0) / reps) / 1e9))
