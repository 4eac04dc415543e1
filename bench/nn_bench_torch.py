#!/usr/bin/python3
"""The shapes of bench/nn_bench.lua in PyTorch (run by bench/run.sh)."""
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
torch.manual_seed(0)


def bench(name, iters, fn):
    for _ in range(max(3, iters // 10)):
        fn()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    us = (time.perf_counter() - t0) / iters * 1e6
    print("%-28s %10.1f us" % (name, us))


lin = nn.Linear(100, 128)
x = torch.randn(128, 100, requires_grad=True)
gy = torch.randn(128, 128)


def lin_step():
    y = lin(x)
    y.backward(gy)
    lin.weight.grad = None
    lin.bias.grad = None
    x.grad = None


bench("linear_fwd_bwd", 3000, lin_step)

c1 = nn.Conv2d(1, 64, 4, stride=2, padding=1)
c2 = nn.Conv2d(64, 128, 4, stride=2, padding=1)
img = torch.randn(64, 1, 28, 28)


def conv_step():
    y = c2(torch.nn.functional.leaky_relu(c1(img), 0.2))
    y.sum().backward()
    for p in list(c1.parameters()) + list(c2.parameters()):
        p.grad = None


bench("conv2d_fwd_bwd", 100, conv_step)
t1 = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1)
t2 = nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1)
code = torch.randn(64, 128, 7, 7, requires_grad=True)


def convt_step():
    y = t2(torch.relu(t1(code)))
    y.sum().backward()
    for p in list(t1.parameters()) + list(t2.parameters()):
        p.grad = None
    code.grad = None


bench("conv_transpose2d_fwd_bwd", 100, convt_step)
p = torch.randn(1000, 1000, requires_grad=True)
p.grad = torch.randn(1000, 1000)
adam = torch.optim.Adam([p], lr=1e-3)
bench("adam_step_1M", 300, adam.step)
