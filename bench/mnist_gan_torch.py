#!/usr/bin/python3
"""The model and loop of scripts/mnist_gan.lua in PyTorch, for speed only
(iterations per second on batches of 64 images in [-1, 1]).
Usage: mnist_gan_torch.py THREADS ITERS"""
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(int(sys.argv[1]))
iters = int(sys.argv[2]) if len(sys.argv) > 2 else 300
torch.manual_seed(0)


def block(i, o, bn=True):
    layers = [nn.Linear(i, o)]
    if bn:
        layers.append(nn.BatchNorm1d(o, 0.8))
    layers.append(nn.LeakyReLU(0.2))
    return layers


G = nn.Sequential(*block(100, 128, False), *block(128, 256), *block(256, 512), *block(512, 1024),
                  nn.Linear(1024, 784), nn.Tanh())
D = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                  nn.Linear(256, 1), nn.Sigmoid())
optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
bce = nn.BCELoss()
x = torch.rand(60000, 784) * 2 - 1
t0 = None
for it in range(iters + 20):
    if it == 20:
        t0 = time.perf_counter()
    real = x[torch.randint(0, 60000, (64,))]
    fake = G(torch.randn(64, 100))
    optD.zero_grad()
    d = (bce(D(real), torch.ones(64, 1)) + bce(D(fake.detach()), torch.zeros(64, 1))) / 2
    d.backward()
    optD.step()
    optG.zero_grad()
    g = bce(D(fake), torch.ones(64, 1))
    g.backward()
    optG.step()
print("%.1f" % (iters / (time.perf_counter() - t0)))
