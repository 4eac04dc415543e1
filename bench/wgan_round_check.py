#!/usr/bin/env python3
"""bench/wgan_round_check.py OUT [clip|gp]: the PyTorch twin of
bench/wgan_round_check.lua. From OUT/round0.safetensors (ganlua's initial
weights, noise, real batch and, for gp, interpolation weights) it runs the
same round in PyTorch, prints its losses beside nothing else (compare them
with the Lua script's lines), then the largest difference of every parameter
and BatchNorm buffer against ganlua's OUT/round1.safetensors, and of G's
eval-mode output. Before the round, both take the generator loss's gradient
at the saved weights (ganlua's in OUT/grad0.safetensors): one backward from
identical inputs, where float32 rounding is all that may differ.

RMSprop's and Adam's first steps move each weight by about lr * sign(grad)
(times 10 for RMSprop), so a weight whose gradient is rounding noise can
differ by up to twice that; the share of entries that differ by more than
1e-6 is printed with each tensor."""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as ref  # noqa: E402  (imports torch)
import torch  # noqa: E402

ganlua_ckpt = ref.ganlua_ckpt
if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in ("clip", "gp")):
    sys.exit("usage: wgan_round_check.py OUT [clip|gp]")
out, clip = sys.argv[1], len(sys.argv) == 2 or sys.argv[2] == "clip"
r0 = os.path.join(out, "round0.safetensors")
ck = ganlua_ckpt.read(r0)


def t(name):
    shape, floats = ck.tensor(name)
    return torch.tensor(floats, dtype=torch.float32).reshape(shape)


real, z, z2 = t("real"), t("z"), t("z2")
G, D = ref.generator(real.shape[1], 3), ref.discriminator_logits(real.shape[1], 3, batchnorm=clip)
G.load_state_dict(ganlua_ckpt.state_dict(r0, "G"))
D.load_state_dict(ganlua_ckpt.state_dict(r0, "D"))


def gradient_gap(path, params):
    """max |difference| / max |gradient| of each of G's parameter gradients against ganlua's in path"""
    ckg = ganlua_ckpt.read(path)
    for i, q in enumerate(params, 1):
        shape, floats = ckg.tensor("gradG%d" % i)
        theirs = torch.tensor(floats).reshape(shape)
        print("  %d (%s): %.2e" % (i, "x".join(map(str, q.shape)),
              (q.grad - theirs).abs().max().item() / q.grad.abs().max().item()))


(-D(G(z2)).mean()).backward()
print("G's gradient at the saved weights, against ganlua's (max |diff| / max |grad|):")
gradient_gap(os.path.join(out, "grad0.safetensors"), G.parameters())
for q in list(G.parameters()) + list(D.parameters()):
    q.grad = None
if clip:
    optD, optG = torch.optim.RMSprop(D.parameters(), lr=5e-5), torch.optim.RMSprop(G.parameters(), lr=5e-5)
else:
    optD = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
    optG = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
for i in range(1, 6):
    with torch.no_grad():
        fake = G(z)
        if clip:
            for q in D.parameters():
                q.clamp_(-0.01, 0.01)
    optD.zero_grad()
    loss = D(fake).mean() - D(real).mean()
    if not clip:
        loss = loss + ref.gradient_penalty(D, real, fake, t("eps%d" % i), 10.0)[0]
    loss.backward()
    optD.step()
    print("critic loss %.8f" % loss.item())
optG.zero_grad()
g_loss = -D(G(z2)).mean()
g_loss.backward()
optG.step()
print("g loss %.8f" % g_loss.item())

r1 = os.path.join(out, "round1.safetensors")
for name, m in (("G", G), ("D", D)):
    theirs = ganlua_ckpt.state_dict(r1, name)
    for k, v in m.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        d = (v.float() - theirs[k]).abs()
        print("%s.%-20s max|diff| %.2e  max|x| %.2e  share > 1e-6: %.4f"
              % (name, k, d.max().item(), v.abs().max().item(), (d > 1e-6).float().mean().item()))
print("G's gradient at the round's generator step (after 5 critic steps each side took):")
gradient_gap(r1, G.parameters())
G.eval()
with torch.no_grad():
    mine = G(z)
shape, floats = ganlua_ckpt.read(r1).tensor("fake")
print("G's eval-mode output on z: max|diff| %.2e" % (mine - torch.tensor(floats).reshape(shape)).abs().max().item())
