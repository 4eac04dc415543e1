#!/usr/bin/env python3
"""bench/infogan_torch.py: scripts/infogan.lua in PyTorch, the reference of
its outcome and speed.

    python3 bench/infogan_torch.py OUT [--leak 0.1] [--output tanh|sigmoid]
        [--g-codes same|fresh] [--init released|pytorch] [--noise uniform|normal]
        [--lambda-cont 1] [--lr-d 2e-4] [--lr-g 1e-3] [--batch 128] [--epochs 11]
        [--max-iters 5000] [--sample-interval 500] [--per-code 200]
        [--data-dir data/mnist] [--threads 1] [--seed 0]
    ganlua bench/score_samples.lua OUT/samples.safetensors mnist runs/mnist_classifier/classifier.safetensors
    ganlua -e 'local c = assert(ckpt.read("OUT/samples.safetensors"))
      local cl = metrics.load_mnist_classifier("runs/mnist_classifier/classifier.safetensors")
      local digits = autograd.no_grad(function() return cl(c.tensors.samples) end):argmax(2)
      print("c1_accuracy", (metrics.matched_accuracy(c.tensors.labels, digits)))'

score_samples.lua gives the Inception Score and FID and ignores `labels`;
the `ganlua -e` line is infogan.lua's c1_accuracy of the saved samples.

The same experiment as infogan.lua, with its options and defaults
(`python3 bench/infogan_torch.py OUT --seed 0 --leak 0.01 --output sigmoid
--g-codes fresh` is `ganlua scripts/infogan.lua --seed 0 --leak 0.01
--output sigmoid --g-codes fresh --out OUT`): InfoGAN (Chen et al. 2016)
with the paper's MNIST networks as the released code (openai/InfoGAN,
infogan/models/regularized_gan.py) builds them. G: z(62) + one-hot c1(10)
+ c2, c3 -> FC 1024, BN, ReLU -> FC 7x7x128, BN, ReLU -> ConvT 64 (4x4,
stride 2), BN, ReLU -> ConvT 1, Tanh or Sigmoid. D and Q share a body:
Conv 64 (4x4, stride 2), LReLU -> Conv 128, BN, LReLU -> FC 1024, BN,
LReLU; D's head FC 1 (a logit), Q's head FC 128, BN, LReLU -> FC 12 (ten
logits of c1, the means of c2 and c3). D's step: BCE(D(x), 1) + BCE(D(G(z,
c)), 0) on detached fakes plus L_I (Q and the shared body learn the codes);
G's step: BCE(D(G(z, c)), 1) + L_I, on the same fakes or (--g-codes
fresh) on a new draw. L_I = cross-entropy of c1 + --lambda-cont x the
Gaussian NLL of c2, c3 about Q's means with unit variance, averaged over
the batch and the two codes (losses.gaussian_nll's mean). Adam (0.5,
0.999), full shuffled batches, 5000 iterations.

OUT gets what `ganlua report` reads: config.json (seconds: the whole run,
data loading to the last file, as log.run counts), metrics.jsonl (per
iteration d_loss, g_loss, info_cat, info_cont -- L_I's terms in D's step
-- and q_accuracy at each grid: Q's c1 on the 10000 test digits under the
best one-to-one map of c1's values to digits, metrics.matched_accuracy's
measure), and samples.safetensors: `grid_codes` (the last code grid,
one column per value of c1), `grid_c2`, `grid_c3` (the traversals), which
ganlua draws as infogan.lua does:
  ganlua -e 'local c = assert(ckpt.read("OUT/samples.safetensors"))
    for _, k in ipairs {"codes", "c2", "c3"} do image.save_grid(c.tensors["grid_" .. k],
      "OUT/" .. k .. ".png", {nrow = 10, normalize = true, range = {-1, 1}}) end'
(range {0, 1} with --output sigmoid), and `samples`, G's images (eval mode, in [-1, 1] as
score_samples.lua expects) of --per-code draws for each value of c1, z and
c2, c3 drawn from their priors, with `labels` (c1's value, 1..10, F32) and
`cont` (c2, c3) beside them, for the accuracy of G's samples by c1 that
infogan.lua's --classifier measures. The random streams are PyTorch's, so
curves agree in distribution, not step for step."""
import argparse
import gzip
import json
import os
import struct
import sys
import time


def positive(kind):
    def parse(s):
        v = kind(s)
        if not v > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {s}")
        return v
    return parse


def nonnegative(kind):
    def parse(s):
        v = kind(s)
        if not v >= 0:
            raise argparse.ArgumentTypeError(f"expected a number >= 0, got {s}")
        return v
    return parse


p = argparse.ArgumentParser(description="scripts/infogan.lua in PyTorch")
p.add_argument("out")
p.add_argument("--epochs", type=positive(int), default=11, help="passes over the 60000 training images")
p.add_argument("--batch", type=positive(int), default=128)
p.add_argument("--lr-d", type=positive(float), default=2e-4, help="Adam learning rate of D and Q")
p.add_argument("--lr-g", type=positive(float), default=1e-3, help="Adam learning rate of G")
p.add_argument("--lambda-cont", type=nonnegative(float), default=1.0, help="weight of the continuous codes' term of L_I")
p.add_argument("--noise", choices=["uniform", "normal"], default="uniform", help="z ~ U(-1, 1) or N(0, 1)")
p.add_argument("--init", choices=["released", "pytorch"], default="released",
               help="N(0, 0.02) weights, BN scales N(1, 0.02), biases 0; or PyTorch's defaults")
p.add_argument("--leak", type=nonnegative(float), default=0.1, help="LeakyReLU slope in D and Q (released code: 0.01)")
p.add_argument("--output", choices=["tanh", "sigmoid"], default="tanh", help="G's last activation (images in [-1, 1] or [0, 1])")
p.add_argument("--g-codes", choices=["same", "fresh"], default="same",
               help="G's step on D's step's fakes, or on a fresh draw of z and codes")
p.add_argument("--sample-interval", type=positive(int), default=500, help="iterations between code grids and q_accuracy")
p.add_argument("--max-iters", type=nonnegative(int), default=5000, help="stop after this many iterations (0: every epoch)")
p.add_argument("--per-code", type=positive(int), default=200, help="samples saved for each value of c1 at the end")
p.add_argument("--data-dir", help="MNIST's IDX files (default: $GANLUA_DATA/mnist, ./data/mnist, the repository's data/mnist)")
p.add_argument("--threads", type=positive(int), default=1)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
# before torch loads: Debian's PyTorch also runs OpenBLAS and OpenMP pools,
# which spin against other processes unless told their size
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(a.threads)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import torch_ref as ref  # noqa: E402

t_start = time.time()  # log.run's t0: before the data loads
started = ref.utc()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
NZ, NCAT, NCONT = 62, 10, 2
UNIT = a.output == "sigmoid"  # the images' range is G's output's: [0, 1] or [-1, 1]


# ------------------------------------------------------------------ data
def data_dir():
    if a.data_dir:
        return a.data_dir
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")
    places = ([os.path.join(os.environ["GANLUA_DATA"], "mnist")] if os.environ.get("GANLUA_DATA") else []) + \
        [os.path.join("data", "mnist"), here]
    for d in places:
        if os.path.isdir(d):
            return d
    sys.exit("infogan_torch.py: no MNIST directory; looked in " + ", ".join(places))


def idx(name):
    """an IDX file of data_dir (plain, .gz, or under raw/) as a numpy array"""
    root = data_dir()
    for d in (root, os.path.join(root, "raw")):
        for path, opener in ((os.path.join(d, name), open), (os.path.join(d, name + ".gz"), gzip.open)):
            if os.path.exists(path):
                with opener(path, "rb") as f:
                    raw = f.read()
                zero, kind, dims = struct.unpack(">HBB", raw[:4])
                if zero != 0 or kind != 0x08:
                    sys.exit(f"infogan_torch.py: {path} is not an IDX file of bytes")
                shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
                return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    sys.exit(f"infogan_torch.py: no {name} in {root}")


def images(split):
    x = torch.from_numpy(idx(f"{split}-images-idx3-ubyte").astype(np.float32)).unsqueeze(1)
    return x.div_(255) if UNIT else x.mul_(2 / 255).sub_(1)  # data.mnist's ranges


train_x = images("train")
test_x = images("t10k")
test_labels = torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64)) + 1  # 1-based, as data.mnist's


# ------------------------------------------------------------------ networks
def lrelu():
    return nn.LeakyReLU(a.leak)


G = nn.Sequential(
    nn.Linear(NZ + NCAT + NCONT, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
    nn.Linear(1024, 7 * 7 * 128), nn.BatchNorm1d(7 * 7 * 128), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
    nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
    nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Sigmoid() if UNIT else nn.Tanh())
# the shared body of D and Q, as the released code's shared_template
# (infogan/models/regularized_gan.py): BN after the second conv and the FC
# 1024, none after the first conv; a layer's bias is kept before its BN
body = nn.Sequential(
    nn.Conv2d(1, 64, 4, 2, 1), lrelu(),
    nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), lrelu(), nn.Flatten(),
    nn.Linear(128 * 7 * 7, 1024), nn.BatchNorm1d(1024), lrelu())
d_head = nn.Linear(1024, 1)
# the released encoder_template: FC 128, BN, LReLU, FC to the codes'
# parameters (there 14 outputs: Gaussian.dist_flat_dim is 2 per code even
# with fix_std=True, and the std outputs go unused; here, as in
# infogan.lua, only the 12 used ones)
q_head = nn.Sequential(nn.Linear(1024, 128), nn.BatchNorm1d(128), lrelu(), nn.Linear(128, NCAT + NCONT))


def released_init(m):
    """ganlua's nn.init.dcgan_, which infogan.lua's --init released applies:
    every Conv2d, ConvTranspose2d and Linear weight N(0, 0.02), its bias 0;
    BN scale N(1, 0.02), shift 0. The released code (infogan/misc/custom_ops.py)
    has these but truncates the conv weights' normal (custom_conv2d's
    truncated_normal_initializer; the deconvs and FCs are plain
    random_normal_initializer); dcgan_ does not truncate, so neither does this."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


if a.init == "released":  # "pytorch": the layers' own defaults, which ganlua's copy
    for m in (G, body, d_head, q_head):
        m.apply(released_init)
# Adam with beta1 0.5 (the released infogan_trainer.py's AdamOptimizer(lr,
# beta1=0.5)); D's optimizer holds the body and both heads (there d_vars:
# every variable under the d_net scope, Q's included)
optD = torch.optim.Adam([*body.parameters(), *d_head.parameters(), *q_head.parameters()], lr=a.lr_d, betas=(0.5, 0.999))
optG = torch.optim.Adam(G.parameters(), lr=a.lr_g, betas=(0.5, 0.999))


# ------------------------------------------------------------------ codes and L_I
def noise(n):
    # the released latent_spec (launchers/run_mnist_exp.py): Uniform(62) for z,
    # Categorical(10), and two Uniform(1, fix_std=True) codes, in this order
    return torch.rand(n, NZ) * 2 - 1 if a.noise == "uniform" else torch.randn(n, NZ)


def random_codes(n):
    return torch.randint(0, NCAT, (n,)), torch.rand(n, NCONT) * 2 - 1  # c1 uniform over 10, c2, c3 ~ U(-1, 1)


def latent(cat, cont, z=None):
    return torch.cat([noise(cat.shape[0]) if z is None else z, F.one_hot(cat, NCAT).float(), cont], 1)


def info_terms(q, cat, cont):
    """L_I's two terms: c1's cross-entropy (the released Categorical.logli on
    Q's softmax), and the Gaussian NLL of c2, c3 about Q's means with unit
    variance (the released Uniform(1, fix_std=True) codes: a uniform prior,
    a Gaussian posterior of std 1), without its constant 0.5 log 2 pi and
    averaged over the batch *and* the two codes as infogan.lua's
    losses.gaussian_nll is; the released code sums over the codes
    (Product.logli), i.e. weighs c2, c3 twice as much at info_reg_coeff 1."""
    return F.cross_entropy(q[:, :NCAT], cat), 0.5 * ((q[:, NCAT:] - cont) ** 2).mean()


# ------------------------------------------------------------------ pictures and accuracy
# grids are not drawn here: they go into samples.safetensors as tensors in
# [0, 1] or [-1, 1] (as G makes them) and ganlua draws them with the same
# image.save_grid infogan.lua uses (see the module docstring)
grids = {}


def infer(m, x):  # Module:infer: eval mode, no graph, the mode restored
    was = m.training
    m.eval()
    with torch.no_grad():
        y = m(x)
    m.train(was)
    return y


# G's images for rows c1 = 1..10 and ten columns: noise z (10 x NZ) and the
# continuous codes cont (10 x 2) indexed by column
row_cat = torch.arange(NCAT).repeat_interleave(10)


def grid_images(z, cont):
    return infer(G, latent(row_cat, cont.repeat(NCAT, 1), z.repeat(NCAT, 1)))


z_cols, z_one = noise(10), noise(1).expand(10, NZ)
sweep = torch.arange(10, dtype=torch.float32) * (4 / 9) - 2  # -2 .. 2


def matched_accuracy(pred, labels, n=NCAT):
    """metrics.matched_accuracy: percent of agreement under the one-to-one map
    of pred's values to labels' that agrees most (exact, by a DP over subsets
    of labels instead of the Hungarian method; pred, labels 1-based)"""
    counts = np.zeros((n, n), np.int64)
    np.add.at(counts, (pred.numpy() - 1, labels.numpy() - 1), 1)
    best = np.full(1 << n, -1, np.int64)
    best[0] = 0
    for mask in range(1 << n):  # rows 0..popcount(mask)-1 mapped onto the labels in mask
        if best[mask] < 0:
            continue
        i = bin(mask).count("1")
        if i == n:
            continue
        for j in range(n):
            if not mask >> j & 1:
                v = best[mask] + counts[i, j]
                if v > best[mask | 1 << j]:
                    best[mask | 1 << j] = v
    return 100.0 * best[-1] / pred.numel()


Q_real = nn.Sequential(body, q_head)


def q_accuracy():  # c1 as a classifier of real digits: Q's most likely c1 on the test images
    pred = torch.cat([infer(Q_real, test_x[i:i + 1000])[:, :NCAT].argmax(1) for i in range(0, test_x.shape[0], 1000)])
    return matched_accuracy(pred + 1, test_labels)


# ------------------------------------------------------------------ training
os.makedirs(a.out, exist_ok=True)
metrics = open(os.path.join(a.out, "metrics.jsonl"), "w")
per_epoch = train_x.shape[0] // a.batch  # drop_last
total = a.epochs * per_epoch
if 0 < a.max_iters < total:
    total = a.max_iters
it, last_cat, snap_seconds = 0, float("nan"), 0.0
t_loop = time.time()
for epoch in range(1, a.epochs + 1):
    if it >= total:
        break
    perm = torch.randperm(train_x.shape[0])
    for i in range(0, per_epoch * a.batch, a.batch):
        if it >= total:
            break
        it += 1
        real = train_x[perm[i:i + a.batch]]
        n = real.shape[0]
        cat, cont = random_codes(n)
        fake = G(latent(cat, cont))
        # D and Q: tell real from (detached) fake, and recover the codes. As in
        # the released infogan_trainer.py: D's loss -mean(log D(x) + log(1 -
        # D(G(z)))), real and fake through D in separate calls (separate BN
        # statistics), and the MI term subtracted from D's loss too, so that
        # D's optimizer trains Q and the shared body on G's fakes
        optD.zero_grad()
        h = body(fake.detach())
        q_cat, q_cont = info_terms(q_head(h), cat, cont)
        ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
        d_loss = F.binary_cross_entropy_with_logits(d_head(body(real)), ones) + \
            F.binary_cross_entropy_with_logits(d_head(h), zeros)
        (d_loss + q_cat + q_cont * a.lambda_cont).backward()
        optD.step()
        # G: fool D (the released generator_loss -mean(log D(G(z)))), and make
        # the codes recoverable. --g-codes fresh: the released train loop runs
        # G's trainer as its own sess.run, which draws z and the codes anew
        optG.zero_grad()
        if a.g_codes == "fresh":
            cat, cont = random_codes(n)
            fake = G(latent(cat, cont))
        h = body(fake)
        adv = F.binary_cross_entropy_with_logits(d_head(h), ones)
        info_cat, info_cont = info_terms(q_head(h), cat, cont)
        (adv + info_cat + info_cont * a.lambda_cont).backward()
        optG.step()

        last_cat = q_cat.item()
        line = {"step": it, "epoch": epoch, "d_loss": d_loss.item(), "g_loss": adv.item(),
                "info_cat": last_cat, "info_cont": q_cont.item()}  # L_I on codes Q had not been trained on yet
        if it % a.sample_interval == 0 or it == total:
            ts = time.time()
            grids["codes"] = grid_images(z_cols, torch.zeros(10, NCONT))
            line["q_accuracy"] = q_accuracy()
            snap_seconds += time.time() - ts
        metrics.write(json.dumps(line) + "\n")
        metrics.flush()
loop_seconds = time.time() - t_loop
metrics.close()

grids["c2"] = grid_images(z_one, torch.stack([sweep, torch.zeros(10)], 1))
grids["c3"] = grid_images(z_one, torch.stack([torch.zeros(10), sweep], 1))
# per_code draws for each value of c1 (z and c2, c3 from their priors), as
# infogan.lua's c1_accuracy draws them; in [-1, 1] for score_samples.lua
labels = torch.arange(NCAT).repeat_interleave(a.per_code)
cont = torch.rand(labels.shape[0], NCONT) * 2 - 1
x = torch.cat([infer(G, latent(labels[i:i + 500], cont[i:i + 500])) for i in range(0, labels.shape[0], 500)])
if UNIT:
    x = x * 2 - 1
ref.write_tensors(a.out, "samples.safetensors", {"samples": x, "labels": (labels + 1).float(), "cont": cont,
                                             **{"grid_" + k: v for k, v in grids.items()}})
q_final = q_accuracy()
seconds = time.time() - t_start
options = {"epochs": a.epochs, "batch": a.batch, "lr_d": a.lr_d, "lr_g": a.lr_g, "lambda_cont": a.lambda_cont,
           "noise": a.noise, "init": a.init, "leak": a.leak, "output": a.output, "g_codes": a.g_codes,
           "sample_interval": a.sample_interval, "max_iters": a.max_iters, "per_code": a.per_code,
           "data_dir": os.path.abspath(data_dir()), "out": a.out, "seed": a.seed, "threads": a.threads}
ref.write_config(a.out, "bench/infogan_torch.py", started, seconds, a.seed, a.threads, options)
train_seconds = loop_seconds - snap_seconds
print(json.dumps({"iterations": it, "seconds": seconds, "loop_seconds": loop_seconds, "train_seconds": train_seconds,
                  "s_per_it": train_seconds / max(it, 1), "info_cat": last_cat, "q_accuracy": q_final,
                  "threads": a.threads}))
print(f"{it} iterations; L_I for c1 {last_cat:.3f} (log 10 = 2.303 is chance); Q's c1 on the test digits "
      f"{q_final:.1f}% (best one-to-one map of c1 to digits)")
