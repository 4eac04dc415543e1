#!/usr/bin/env python3
"""bench/wgan_torch.py: scripts/wgan.lua in PyTorch, the reference of its
outcome and speed.

    ganlua bench/export_images.lua folder:data/emoji 32 0 /tmp/emoji32.safetensors
    python3 bench/wgan_torch.py /tmp/emoji32.safetensors OUT [--variant gp|clip]
        [--size 32] [--max-iters 500] [--eval-interval 50] [--threads 1] [--seed 0]

The same experiment as wgan.lua: DCGAN's G (ConvTranspose2d + BatchNorm +
ReLU, Tanh, no biases) and critic (Conv2d + LeakyReLU 0.2, BatchNorm only
for clip, no sigmoid), N(0, 0.02) weights and BatchNorm scales N(1, 0.02);
gp: lambda 10 at random interpolates, Adam 1e-4 (0.5, 0.9); clip: every
critic parameter clamped to [-0.01, 0.01] before each critic step, RMSprop
5e-5, 100 critic steps for the first 25 generator steps and every 500th;
5 critic steps per generator step, batch 64, a critic step on every
shuffled batch. The images and the held-out split are the ones wgan.lua
uses with the same --data, --size and --seed (export_images.lua writes
them), read with tools/ganlua_ckpt.py.

OUT gets what `ganlua report` reads: config.json, metrics.jsonl (per
generator step w_estimate, g_loss, gp and grad_norm for gp; w_train and
w_heldout every --eval-interval steps, measured as wgan.lua does: up to 512
held-out and as many training images against the same fakes, the critic
in eval mode), and samples.safetensors, G's images of 64 fixed noise
vectors at the end (`ganlua -e` can draw them with image.save_grid).
The random streams are PyTorch's, so curves agree in distribution, not
step for step."""
import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("out")
p.add_argument("--variant", choices=["gp", "clip"], default="gp")
p.add_argument("--size", type=int, choices=[32, 64], default=32)
p.add_argument("--max-iters", type=int, default=500)
p.add_argument("--eval-interval", type=int, default=50)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
# before torch loads: Debian's PyTorch also runs OpenBLAS and OpenMP pools,
# which spin against other processes unless told their size
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(a.threads)
import torch  # noqa: E402

import torch_ref as ref  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
clip = a.variant == "clip"
NZ, B, N_CRITIC, LAMBDA, CLAMP = ref.NZ, 64, 5, 10.0, 0.01
train, held = ref.load(a.data, "train", "held")
if train.shape[2] != a.size:
    sys.exit(f"wgan_torch.py: {a.data} holds {train.shape[2]}x{train.shape[3]} images, --size is {a.size}")
NC, layers = train.shape[1], ref.stages(a.size, "wgan_torch.py")
G, D = ref.generator(NC, layers), ref.discriminator_logits(NC, layers, batchnorm=clip)
G.apply(ref.dcgan_init)
D.apply(ref.dcgan_init)
if clip:
    optG, optD = torch.optim.RMSprop(G.parameters(), lr=5e-5), torch.optim.RMSprop(D.parameters(), lr=5e-5)
else:
    optG = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
    optD = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
z_fixed = torch.randn(64, NZ, 1, 1)


def gradient_penalty(real, fake):
    return ref.gradient_penalty(D, real, fake, torch.rand(real.shape[0], 1, 1, 1), LAMBDA)


def estimates():
    n = min(512, held.shape[0])
    G.eval()
    D.eval()
    with torch.no_grad():
        d_fake = D(G(torch.randn(n, NZ, 1, 1))).mean().item()
        wt, wh = D(train[:n]).mean().item() - d_fake, D(held[:n]).mean().item() - d_fake
    G.train()
    D.train()
    return wt, wh


def critic_steps(step):
    return 100 if clip and (step < 25 or step % 500 == 0) else N_CRITIC


os.makedirs(a.out, exist_ok=True)
metrics = open(os.path.join(a.out, "metrics.jsonl"), "w")
started = ref.utc()
t0 = time.time()
step, epoch, in_round, w_sum, gp_sum, norm_sum = 0, 0, 0, 0.0, 0.0, 0.0
need = critic_steps(0)
while step < a.max_iters:
    epoch += 1
    perm = torch.randperm(train.shape[0])
    for i in range(0, train.shape[0] - B + 1, B):  # drop_last
        if step >= a.max_iters:
            break
        real = train[perm[i:i + B]]
        with torch.no_grad():
            fake = G(torch.randn(B, NZ, 1, 1))
        if clip:
            with torch.no_grad():
                for q in D.parameters():
                    q.clamp_(-CLAMP, CLAMP)
        optD.zero_grad()
        d_real, d_fake = D(real).mean(), D(fake).mean()
        loss = d_fake - d_real
        if not clip:
            gp, norms = gradient_penalty(real, fake)
            loss = loss + gp
            gp_sum, norm_sum = gp_sum + gp.item(), norm_sum + norms.mean().item()
        loss.backward()
        optD.step()
        in_round += 1
        w_sum += (d_real - d_fake).item()
        if in_round == need:
            step += 1
            optG.zero_grad()
            g_loss = -D(G(torch.randn(B, NZ, 1, 1))).mean()
            g_loss.backward()
            optG.step()
            line = {"step": step, "epoch": epoch, "w_estimate": w_sum / in_round, "g_loss": g_loss.item()}
            if not clip:
                line["gp"], line["grad_norm"] = gp_sum / in_round, norm_sum / in_round
            if step % a.eval_interval == 0 or step == a.max_iters:
                line["w_train"], line["w_heldout"] = estimates()
            metrics.write(json.dumps(line) + "\n")
            metrics.flush()
            w_sum, gp_sum, norm_sum, in_round = 0.0, 0.0, 0.0, 0
            need = critic_steps(step)
metrics.close()
seconds = time.time() - t0

G.eval()
with torch.no_grad():
    ref.write_samples(a.out, G(z_fixed))
ref.write_config(a.out, "bench/wgan_torch.py", started, seconds, a.seed, a.threads,
                 {"variant": a.variant, "size": a.size, "max_iters": a.max_iters, "eval_interval": a.eval_interval,
                  "seed": a.seed, "threads": a.threads})
print(json.dumps({"variant": a.variant, "size": a.size, "generator_steps": step, "seconds": seconds,
                  "steps_per_s": step / seconds, "threads": a.threads}))
