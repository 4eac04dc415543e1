"""bench/torch_ref.py: what the PyTorch references of outcome share
(wgan_torch.py, dcgan_torch.py): the images export_images.lua wrote, the
DCGAN networks of stdlib/models.lua (models.dcgan_generator / _discriminator)
and their init, and the files `ganlua report` and score_samples.lua read.
Import it after setting the thread variables: it imports torch."""
import json
import os
import struct
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import ganlua_ckpt  # noqa: E402

NZ, F = 100, 64


def load(path, *names):
    """the named N x C x S x S tensors of an export_images.lua file"""
    ck = ganlua_ckpt.read(path)
    out = []
    for name in names:
        shape, floats = ck.tensor(name)
        out.append(torch.frombuffer(bytearray(floats.tobytes()), dtype=torch.float32).reshape(shape).clone())
    return out


def stages(size, script):
    if size not in (32, 64):
        sys.exit(f"{script}: {size}x{size} images; DCGAN here takes 32 or 64")
    return 4 if size == 64 else 3


def generator(nc, layers):
    ch = F * 2 ** (layers - 1)
    m = [nn.ConvTranspose2d(NZ, ch, 4, bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
    for _ in range(2, layers + 1):
        m += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
        ch //= 2
    return nn.Sequential(*m, nn.ConvTranspose2d(ch, nc, 4, 2, 1, bias=False), nn.Tanh())


def discriminator_logits(nc, layers, batchnorm):
    m, ch = [nn.Conv2d(nc, F, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)], F
    for _ in range(2, layers + 1):
        m.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False))
        if batchnorm:
            m.append(nn.BatchNorm2d(ch * 2))
        m.append(nn.LeakyReLU(0.2))
        ch *= 2
    return nn.Sequential(*m, nn.Conv2d(ch, 1, 4, bias=False), nn.Flatten())


def gradient_penalty(D, real, fake, eps, lam):
    """WGAN-GP's lam * mean((||grad D(xhat)|| - 1)^2) at xhat = eps real + (1 - eps) fake,
    with the graph kept for the critic's backward; also the norms, detached"""
    xhat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    g, = torch.autograd.grad(D(xhat).sum(), xhat, create_graph=True)
    norms = g.reshape(g.shape[0], -1).norm(2, dim=1)
    return ((norms - 1) ** 2).mean() * lam, norms.detach()


def dcgan_init(m):  # the PyTorch DCGAN tutorial's weights_init
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def utc():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_tensors(out, name, tensors):
    """F32 tensors (a dict) as the safetensors file out/name, atomically"""
    header, blobs, at = {}, [], 0
    for k, x in tensors.items():
        b = x.contiguous().numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(x.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    tmp = os.path.join(out, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, os.path.join(out, name))


def write_samples(out, x):
    """x as out/samples.safetensors (a `samples` tensor), atomically"""
    write_tensors(out, "samples.safetensors", {"samples": x})


def write_config(out, script, started, seconds, seed, threads, options):
    """out/config.json as log.run writes it, for ganlua report"""
    impl = "PyTorch " + torch.__version__
    config = {"script": script, "args": sys.argv[1:], "date": started, "finished": utc(), "seconds": seconds,
              "seed": seed, "threads": threads, "ganlua": impl, "options": dict(options, implementation=impl)}
    tmp = os.path.join(out, "config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(config, f)
    os.replace(tmp, os.path.join(out, "config.json"))
