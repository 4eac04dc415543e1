#!/usr/bin/env python3
# bench/ckpt_reader_check.py DIR: tools/ganlua_ckpt.py against PyTorch.
# DIR holds ckpt.safetensors (ganlua's {G = G, it = 7}, G a Sequential
# Linear(4, 8), BatchNorm1d(8), ReLU, Linear(8, 2)), z.csv and out.csv
# (ganlua's G(z) in eval mode). Loads G into the same torch architecture
# and compares the outputs; prints one line, exit 1 on a mismatch.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import ganlua_ckpt  # noqa: E402
import torch  # noqa: E402

d = sys.argv[1]
G = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
sd = ganlua_ckpt.state_dict(os.path.join(d, "ckpt.safetensors"), "G")
sd["1.num_batches_tracked"] = sd["1.num_batches_tracked"].long().reshape(())
G.load_state_dict(sd, strict=True)
G.eval()


def csv(name):
    rows = [line for line in open(os.path.join(d, name)).read().split("\n") if line.strip()]
    return torch.tensor([[float(v) for v in r.split(",")] for r in rows])


with torch.no_grad():
    diff = (G(csv("z.csv")) - csv("out.csv")).abs().max().item()
it = ganlua_ckpt.read(os.path.join(d, "ckpt.safetensors")).values.get("it")
ok = diff < 1e-5 and it == 7
print("   tools/ganlua_ckpt.py: a ganlua G loaded into torch.nn.Sequential, strict; max |difference| of outputs %.2e, "
      "values it = %s: %s" % (diff, it, "ok" if ok else "MISMATCH"))
sys.exit(0 if ok else 1)
