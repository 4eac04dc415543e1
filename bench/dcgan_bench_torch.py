# bench/dcgan_bench_torch.py THREADS MODE SIZE [ITERS] — bench/dcgan_bench.lua
# in PyTorch: the same models, losses, optimizers and batch; microseconds
# per iteration, the mean over ITERS (default 10) after 3 warm-ups.
import sys
import time

import torch
import torch.nn as nn

threads, mode, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
iters = int(sys.argv[4]) if len(sys.argv) > 4 else 10
torch.set_num_threads(threads)
torch.manual_seed(0)
B, NZ, F = 64, 100, 64
layers = 4 if size == 64 else 3


def generator():
    ch = F * 2 ** (layers - 1)
    m = [nn.ConvTranspose2d(NZ, ch, 4, bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
    for _ in range(2, layers + 1):
        m += [nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
        ch //= 2
    m += [nn.ConvTranspose2d(ch, 3, 4, stride=2, padding=1, bias=False), nn.Tanh()]
    return nn.Sequential(*m)


def discriminator(bn, sigmoid):
    m = [nn.Conv2d(3, F, 4, stride=2, padding=1, bias=False), nn.LeakyReLU(0.2)]
    ch = F
    for _ in range(2, layers + 1):
        m.append(nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1, bias=False))
        if bn:
            m.append(nn.BatchNorm2d(ch * 2))
        m.append(nn.LeakyReLU(0.2))
        ch *= 2
    m.append(nn.Conv2d(ch, 1, 4, bias=False))
    if sigmoid:
        m.append(nn.Sigmoid())
    m.append(nn.Flatten())
    return nn.Sequential(*m)


G = generator()
D = discriminator(mode == "dcgan", mode == "dcgan")
real = torch.rand(B, 3, size, size) * 2 - 1
bce = nn.BCELoss()

if mode == "dcgan":
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)

    def step():
        fake = G(torch.randn(B, NZ, 1, 1))
        optD.zero_grad()
        d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        d_loss.backward()
        optD.step()
        optG.zero_grad()
        g_loss = bce(D(fake), ones)
        g_loss.backward()
        optG.step()
else:
    optD = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.0, 0.9))

    def step():
        with torch.no_grad():
            fake = G(torch.randn(B, NZ, 1, 1))
        optD.zero_grad()
        loss = D(fake).mean() - D(real).mean()
        if mode == "gp":
            eps = torch.rand(B, 1, 1, 1)
            xhat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            g, = torch.autograd.grad(D(xhat).sum(), xhat, create_graph=True)
            loss = loss + ((g.reshape(B, -1).norm(2, dim=1) - 1) ** 2).mean() * 10
        loss.backward()
        optD.step()

for _ in range(3):
    step()
t0 = time.perf_counter()
for _ in range(iters):
    step()
print("%.1f" % ((time.perf_counter() - t0) / iters * 1e6))
