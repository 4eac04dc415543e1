#!/usr/bin/env python3
"""bench/dcgan_torch.py: scripts/dcgan.lua in PyTorch, the reference of the
generator-loss study's outcome and speed.

    ganlua bench/export_images.lua fashion 32 0 /tmp/fashion32.safetensors 0
    python3 bench/dcgan_torch.py /tmp/fashion32.safetensors OUT [--gloss nonsaturating]
        [--epochs 2] [--threads 1] [--seed 0]
    ganlua bench/score_samples.lua OUT/samples.safetensors fashion runs/fashion_classifier/classifier.safetensors

PyTorch's DCGAN tutorial as dcgan.lua builds it: ConvTranspose2d + BatchNorm
+ ReLU and Tanh for G, Conv2d + BatchNorm + LeakyReLU 0.2 and Sigmoid for D,
no biases, N(0, 0.02) weights and BatchNorm scales N(1, 0.02), Adam 2e-4
(0.5, 0.999), batch 128 (full batches of a shuffled pass), nz 100, width
64; D's loss BCE(D(x), 1) + BCE(D(G(z)), 0) (the tutorial's sum) or the
hinge on D's logits; G's loss by --gloss: saturating (mean log(1 -
D(G(z)))), nonsaturating (BCE(D(G(z)), 1)) or hinge (-mean logit).

OUT gets config.json and metrics.jsonl (d_loss, g_loss, d_x, d_g_z per
iteration) for `ganlua report`, and samples.safetensors: G's images (eval
mode) of 2000 noise vectors at the end, which score_samples.lua scores
with the same classifier, Inception Score and FID, as dcgan.lua does."""
import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("out")
p.add_argument("--gloss", choices=["saturating", "nonsaturating", "hinge"], default="nonsaturating")
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--max-iters", type=int, default=0, help="stop after this many iterations (0: every epoch)")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before torch loads its pools
    os.environ[var] = str(a.threads)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import torch_ref as ref  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
train, = ref.load(a.data, "train")
NC, S, NZ = train.shape[1], train.shape[2], ref.NZ
layers = ref.stages(S, "dcgan_torch.py")
G, D_logits = ref.generator(NC, layers), ref.discriminator_logits(NC, layers, batchnorm=True)
G.apply(ref.dcgan_init)
D_logits.apply(ref.dcgan_init)
optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
optD = torch.optim.Adam(D_logits.parameters(), lr=2e-4, betas=(0.5, 0.999))
bce = nn.BCELoss()


def D(x):
    return torch.sigmoid(D_logits(x))


os.makedirs(a.out, exist_ok=True)
metrics = open(os.path.join(a.out, "metrics.jsonl"), "w")
started = ref.utc()
t0 = time.time()
it = 0
for epoch in range(1, a.epochs + 1):
    perm = torch.randperm(train.shape[0])
    for i in range(0, train.shape[0] - a.batch + 1, a.batch):
        if a.max_iters and it >= a.max_iters:
            break
        real = train[perm[i:i + a.batch]]
        n = real.shape[0]
        it += 1
        fake = G(torch.randn(n, NZ, 1, 1))
        optD.zero_grad()
        if a.gloss == "hinge":
            lr_, lf_ = D_logits(real), D_logits(fake.detach())
            d_loss = torch.relu(1 - lr_).mean() + torch.relu(1 + lf_).mean()
            d_real, d_fake = torch.sigmoid(lr_), torch.sigmoid(lf_)
        else:
            d_real, d_fake = D(real), D(fake.detach())
            d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        d_loss.backward()
        optD.step()
        optG.zero_grad()
        if a.gloss == "hinge":
            g_loss = -D_logits(fake).mean()
        elif a.gloss == "saturating":
            out = D(fake)
            g_loss = -bce(out, torch.zeros_like(out))
        else:
            out = D(fake)
            g_loss = bce(out, torch.ones_like(out))
        g_loss.backward()
        optG.step()
        metrics.write(json.dumps({"step": it, "epoch": epoch, "d_loss": d_loss.item(), "g_loss": g_loss.item(),
                                  "d_x": d_real.mean().item(), "d_g_z": d_fake.mean().item()}) + "\n")
metrics.close()
seconds = time.time() - t0

G.eval()
with torch.no_grad():
    ref.write_samples(a.out, torch.cat([G(torch.randn(500, NZ, 1, 1)) for _ in range(4)]))
ref.write_config(a.out, "bench/dcgan_torch.py", started, seconds, a.seed, a.threads,
                 {"gloss": a.gloss, "epochs": a.epochs, "batch": a.batch, "seed": a.seed, "threads": a.threads})
print(json.dumps({"gloss": a.gloss, "iterations": it, "seconds": seconds, "it_per_s": it / seconds,
                  "threads": a.threads}))
