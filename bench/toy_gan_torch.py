#!/usr/bin/python3
"""The toy mode-collapse experiment of scripts/toy_gan.lua, written in PyTorch.

Same data, networks, losses, optimizers, schedule and metric, so the two
can be compared run for run (outcomes) and for speed (iterations per
second). Run with Debian's python3-torch:

    /usr/bin/python3 bench/toy_gan_torch.py --variant vanilla --seed 0 [--threads 1] [--epochs 200]

Prints one JSON line: variant, seed, modes, hq_percent, kl, iterations,
seconds, it_per_s, peak_rss_kb.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--variant", default="vanilla",
               choices=["vanilla", "fm", "fm_lambda", "minibatch", "wgan", "wgan_gp"])
p.add_argument("--dataset", default="ring", choices=["ring", "grid"])
p.add_argument("--seed", type=int, default=0)
p.add_argument("--epochs", type=int, default=200)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--zdim", type=int, default=100)
p.add_argument("--lambda", dest="lam", type=float, default=10.0)
p.add_argument("--n_critic", type=int, default=5)
p.add_argument("--lr", type=float, default=None)
p.add_argument("--samples", type=int, default=2500)
p.add_argument("--threads", type=int, default=1)
opt = p.parse_args()
torch.manual_seed(opt.seed)
torch.set_num_threads(opt.threads)


def mixture(n):
    if opt.dataset == "ring":
        k = 8
        ang = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
        centers = torch.stack([2 * torch.cos(ang), 2 * torch.sin(ang)], 1).float()
    else:
        g = (torch.arange(5).float() - 2) * 2
        centers = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    which = torch.randint(0, centers.shape[0], (n,))
    return centers[which] + torch.randn(n, 2) * 0.02, centers


x, centers = mixture(10000)
scale = x.abs().max()
x, centers, sigma = x / scale, centers / scale, 0.02 / scale.item()


class MBD(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016) from the authors'
    released code, not from a port: openai/improved-gan,
    mnist_svhn_cifar10/nn.py, class MinibatchLayer. theta ~ N(0, 0.05),
    normalised per (kernel, dim) column and scaled by exp(log_weight_scale)
    (init 0); the L1 distances per kernel with 1e6 added on the diagonal, so
    the self pair drops out; bias -1. torch.cdist(p=1) gives the distances
    without the N x N x B x C broadcast (the same values)."""

    def __init__(self, nin, B, C):
        super().__init__()
        self.B, self.C = B, C
        self.theta = nn.Parameter(torch.randn(nin, B, C) * 0.05)
        self.log_weight_scale = nn.Parameter(torch.zeros(B, C))
        self.b = nn.Parameter(torch.full((B,), -1.0))

    def forward(self, h):
        W = self.theta * (self.log_weight_scale.exp() / self.theta.pow(2).sum(0).sqrt())
        M = h.mm(W.view(h.shape[1], -1)).view(-1, self.B, self.C).transpose(0, 1)  # B x N x C
        d = torch.cdist(M, M, p=1) + 1e6 * torch.eye(h.shape[0])                   # B x N x N
        f = torch.exp(-d).sum(2).t() + self.b                                       # N x B
        return torch.cat([h, f], 1)


v = opt.variant
G = nn.Sequential(nn.Linear(opt.zdim, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2))
if v == "minibatch":
    D = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), MBD(128, 32, 8), nn.Linear(160, 1))
elif v == "wgan_gp":
    D = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
else:
    D = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 2 if v == "fm" else 1))
features = D[:2]  # D's hidden layer after its ReLU, as improved-gan's feature matching takes it

if v == "wgan":
    lr = opt.lr or 5e-5
    optG, optD = torch.optim.RMSprop(G.parameters(), lr=lr), torch.optim.RMSprop(D.parameters(), lr=lr)
else:
    betas = (0.5, 0.9) if v == "wgan_gp" else (0.5, 0.999)
    lr = opt.lr or 1e-4
    optG = torch.optim.Adam(G.parameters(), lr=lr, betas=betas, eps=1e-8)
    optD = torch.optim.Adam(D.parameters(), lr=lr, betas=betas, eps=1e-8)


def fm_loss(real, fake):
    with torch.no_grad():
        fr = features(real)
    return ((fr.mean(0) - features(fake).mean(0)) ** 2).sum()


def d_step(real, fake):
    n = real.shape[0]
    fake = fake.detach()
    optD.zero_grad()
    if v == "fm":
        loss = F.cross_entropy(D(real), torch.zeros(n, dtype=torch.long)) + \
            F.cross_entropy(D(fake), torch.ones(n, dtype=torch.long))
    elif v in ("wgan", "wgan_gp"):
        loss = D(fake).mean() - D(real).mean()
        if v == "wgan_gp":
            eps = torch.rand(n, 1)
            xhat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            g, = torch.autograd.grad(D(xhat).sum(), xhat, create_graph=True)
            loss = loss + 10 * ((g.norm(2, dim=1) - 1) ** 2).mean()
    else:
        loss = F.binary_cross_entropy_with_logits(D(real), torch.ones(n, 1)) + \
            F.binary_cross_entropy_with_logits(D(fake), torch.zeros(n, 1))
    loss.backward()
    optD.step()
    if v == "wgan":
        with torch.no_grad():
            for m in D.modules():
                if isinstance(m, nn.Linear):
                    m.weight.clamp_(-0.01, 0.01)
                    m.bias.clamp_(-0.01, 0.01)


def g_step(real, fake):
    n = real.shape[0]
    optG.zero_grad()
    if v == "fm":
        loss = fm_loss(real, fake)
    elif v == "fm_lambda":
        loss = F.binary_cross_entropy_with_logits(D(fake), torch.ones(n, 1)) + opt.lam * fm_loss(real, fake)
    elif v in ("wgan", "wgan_gp"):
        loss = -D(fake).mean()
    else:
        loss = F.binary_cross_entropy_with_logits(D(fake), torch.ones(n, 1))
    loss.backward()
    optG.step()


def modes(s):
    d2 = ((s.unsqueeze(1) - centers.unsqueeze(0)) ** 2).sum(2)
    dmin, idx = d2.min(1)
    hq = dmin <= (3 * sigma) ** 2
    k = centers.shape[0]
    pa = torch.bincount(idx, minlength=k).float() / s.shape[0]   # every sample at its nearest mode
    extra = {"kl_all": float((pa[pa > 0] * torch.log(pa[pa > 0] * k)).sum()),
             "dist_sigma": float(dmin.sqrt().mean() / sigma)}
    counts = torch.bincount(idx[hq], minlength=k).float()
    n_hq = int(hq.sum())
    if n_hq == 0:
        return 0, 0.0, float("nan"), extra
    p = counts / n_hq
    kl = float((p[p > 0] * torch.log(p[p > 0] * k)).sum())
    return int((counts >= 0.01 * n_hq).sum()), 100.0 * n_hq / s.shape[0], kl, extra


wgan = v in ("wgan", "wgan_gp")
it = 0
t0 = time.time()
for epoch in range(opt.epochs):
    perm = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], opt.batch):
        real = x[perm[i:i + opt.batch]]
        it += 1
        n = real.shape[0]
        if not wgan or it % opt.n_critic == 0:
            fake = G(torch.randn(n, opt.zdim))
            d_step(real, fake)
            g_step(real, fake)
        else:
            with torch.no_grad():
                fake = G(torch.randn(n, opt.zdim))
            d_step(real, fake)
seconds = time.time() - t0
with torch.no_grad():
    s = G(torch.randn(opt.samples, opt.zdim))
m, hq, kl, extra = modes(s)
print(json.dumps({"variant": v, "seed": opt.seed, "dataset": opt.dataset, "epochs": opt.epochs,
                  "iterations": it, "modes": m, "hq_percent": hq, "kl": None if math.isnan(kl) else kl,
                  "kl_all": extra["kl_all"], "dist_sigma": extra["dist_sigma"], "lr": opt.lr,
                  "seconds": seconds, "it_per_s": it / seconds, "threads": opt.threads,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
