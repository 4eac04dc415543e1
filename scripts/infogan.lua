#!/usr/bin/env ganlua
-- infogan.lua — InfoGAN on MNIST (Chen et al. 2016, with the paper's MNIST
-- networks). G's input is noise z(62), a categorical code c1 (10 values)
-- and two continuous codes c2, c3 ~ U(-1, 1). D and the recognition head
-- Q share a convolutional body; Q guesses the codes back from G's images,
-- and the mutual-information bound L_I (cross-entropy of c1, Gaussian
-- NLL of c2 and c3 around Q's means, unit variance) is added to both
-- players' losses: D's step trains Q (and the shared body) on detached
-- fakes, G's step makes the codes recoverable.
--
--   ganlua scripts/infogan.lua --epochs 5
--
-- G: 74 -> FC 1024, BN, ReLU -> FC 7x7x128, BN, ReLU -> ConvT 64 (4x4,
--    stride 2), BN, ReLU -> ConvT 1 (4x4, stride 2), Tanh
-- D: Conv 64 (4x4, stride 2), LReLU 0.1 -> Conv 128, BN, LReLU -> FC 1024,
--    BN, LReLU -> FC 1 (D's logit) | FC 128, BN, LReLU -> FC 12 (Q: ten
--    logits for c1, means for c2 and c3)
-- Adam (0.5, 0.999), 2e-4 for D and Q, 1e-3 for G; batch 128 for 5000
-- iterations (the released launcher's 50 epochs of 100 updates); L_I weighs
-- c1 by 1 and c2, c3 by --lambda-cont (1: at 0.1, Q's guesses of c2 and
-- c3 stayed at chance through three epochs, and so did their pictures).
-- Where the paper and its released code (openai/InfoGAN) differ, the
-- options name both: --leak 0.1 | 0.01, --output tanh | sigmoid (its
-- MeanBernoulli output on images in [0, 1]), --g-codes same | fresh (its
-- G step is a second sess.run, so a new draw of z and the codes).
--
-- Writes to --out: codes_<iteration>.png (ten rows, one per value of c1;
-- columns: the same ten noise vectors), c2.png and c3.png at the end (row
-- k: c1 = k; columns: the code from -2 to 2, the rest fixed), losses.png,
-- metrics.jsonl with d_loss, g_loss, info_cat and info_cont (L_I's terms
-- in D's step, on codes Q has not been trained on yet), and at each grid
-- two accuracies of c1 as a digit classifier, each under the one-to-one map
-- of c1's values to digits that agrees most (metrics.matched_accuracy,
-- the Hungarian method; not purity, which lets two values share a digit):
-- q_accuracy, Q's c1 on the 10000 real test images against their labels
-- (the paper's "5 % error"), and with --classifier (mnist_classifier.lua)
-- c1_accuracy, the classifier's digits of G's samples against their c1.
local opt = cli.options {
  epochs = { 11, "passes over the 60000 training images", positive = true },
  batch = { 128, "batch size", positive = true },
  lr_d = { 2e-4, "Adam learning rate of D and Q", positive = true },
  lr_g = { 1e-3, "Adam learning rate of G", positive = true },
  lambda_cont = { 1.0, "weight of the continuous codes' term of L_I", min = 0 },
  noise = { "uniform", "distribution of z: U(-1, 1) as the released code draws it, or N(0, 1)", choices = { "uniform", "normal" } },
  init = { "released", "weights: N(0, 0.02), BatchNorm scales N(1, 0.02), biases 0 (the released code's), or PyTorch's defaults",
           choices = { "released", "pytorch" } },
  leak = { 0.1, "LeakyReLU slope in D and Q: 0.1 as the paper's appendix says, 0.01 as the released code's leaky_rectify", min = 0 },
  output = { "tanh", "G's last activation: tanh on images in [-1, 1], or sigmoid on [0, 1] (the released code's MeanBernoulli mean)",
             choices = { "tanh", "sigmoid" } },
  g_codes = { "same", "G's step on the fakes D's step saw, or on fresh z and codes (the released code runs G's step as its own draw)",
              choices = { "same", "fresh" } },
  sample_interval = { 500, "iterations between code grids", positive = true },
  max_iters = { 5000, "stop after this many iterations (0: run every epoch)", min = 0 },
  classifier = { "", "checkpoint of mnist_classifier.lua, for the accuracy of G's samples by c1" },
  data_dir = data.dir_option("MNIST"),
}
tensor.manual_seed(opt.seed)
local run = log.run(opt)
local range = opt.output == "tanh" and "tanh" or "unit" -- the images' range: G's output's
local ds = data.mnist { split = "train", dir = opt.data_dir, range = range }
local test_set = data.mnist { split = "test", dir = opt.data_dir, range = range }

local NZ, NCAT, NCONT = 62, 10, 2
local G = nn.Sequential {
  nn.Linear(NZ + NCAT + NCONT, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
  nn.Linear(1024, 7 * 7 * 128), nn.BatchNorm1d(7 * 7 * 128), nn.ReLU(), nn.Reshape(128, 7, 7),
  nn.ConvTranspose2d(128, 64, 4, { stride = 2, padding = 1 }), nn.BatchNorm2d(64), nn.ReLU(),
  nn.ConvTranspose2d(64, 1, 4, { stride = 2, padding = 1 }), opt.output == "tanh" and nn.Tanh() or nn.Sigmoid(),
}
local body = nn.Sequential {
  nn.Conv2d(1, 64, 4, { stride = 2, padding = 1 }), nn.LeakyReLU(opt.leak),
  nn.Conv2d(64, 128, 4, { stride = 2, padding = 1 }), nn.BatchNorm2d(128), nn.LeakyReLU(opt.leak), nn.Flatten(),
  nn.Linear(128 * 7 * 7, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(opt.leak),
}
local d_head = nn.Linear(1024, 1)
local q_head = nn.Sequential { nn.Linear(1024, 128), nn.BatchNorm1d(128), nn.LeakyReLU(opt.leak), nn.Linear(128, NCAT + NCONT) }

-- the released code (openai/InfoGAN, infogan/misc/custom_ops.py and
-- distributions.py): every weight N(0, 0.02), BatchNorm's scale N(1, 0.02),
-- biases 0; z ~ U(-1, 1) (its Uniform(62)). (Its convolutions draw their
-- weights from a normal truncated at 2 sigma; here all are plain normal,
-- a difference not yet tried. docs/results.md lists the others.)
if opt.init == "released" then
  for _, m in ipairs { G, body, d_head, q_head } do nn.init.dcgan_(m) end
end
local function noise(n)
  if opt.noise == "uniform" then return tensor.rand(n, NZ) * 2 - 1 end
  return tensor.randn(n, NZ)
end

local function params(...)
  local all = {}
  for _, m in ipairs { ... } do
    for _, p in ipairs(m:parameters()) do all[#all + 1] = p end
  end
  return all
end
local optD = optim.Adam(params(body, d_head, q_head), { lr = opt.lr_d, betas = { 0.5, 0.999 } })
local optG = optim.Adam(G:parameters(), { lr = opt.lr_g, betas = { 0.5, 0.999 } })

-- G's input for categorical values cat (1-based, N) and continuous codes cont (N x 2)
local function latent(cat, cont)
  return tensor.cat({ noise(cat:size(1)), tensor.one_hot(cat, NCAT), cont }, 2)
end
local function random_codes(n) return tensor.randint(1, NCAT + 1, { n }), tensor.rand(n, NCONT) * 2 - 1 end

-- L_I's two terms for Q's output q on images made from codes cat, cont
local function info_terms(q, cat, cont)
  local cat_loss = losses.cross_entropy(q:narrow(2, 1, NCAT), cat)
  local cont_loss = losses.gaussian_nll(q:narrow(2, NCAT + 1, NCONT), cont, 1)
  return cat_loss, cont_loss
end

-- G's images for rows c1 = 1..10 and ten columns: noise z (10 x NZ, or 1 x NZ
-- for all) and the continuous codes cont (10 x 2) indexed by column
local row_cat = tensor.arange(1, NCAT + 1):unsqueeze(2):expand(NCAT, 10):reshape(NCAT * 10)
local function grid_images(z, cont)
  local zz = z:unsqueeze(1):expand(NCAT, 10, NZ):reshape(NCAT * 10, NZ)
  local cc = cont:unsqueeze(1):expand(NCAT, 10, NCONT):reshape(NCAT * 10, NCONT)
  return G:infer(tensor.cat({ zz, tensor.one_hot(row_cat, NCAT), cc }, 2))
end
local z_cols, z_one = noise(10), noise(1):expand(10, NZ)
local sweep = tensor.arange(0, 10) * (4 / 9) - 2 -- -2 .. 2
local function save_grid(x, name)
  assert(image.save_grid(x, opt.out .. "/" .. name, { nrow = 10, normalize = true, range = { range == "tanh" and -1 or 0, 1 } }))
end

-- c1 as a classifier of G's samples: the classifier's digit of per samples
-- for each value of c1, against that value
local function c1_accuracy(classifier, per)
  local cat = tensor.arange(1, NCAT + 1):unsqueeze(2):expand(NCAT, per):reshape(NCAT * per)
  local x = G:infer(latent(cat, tensor.rand(NCAT * per, NCONT) * 2 - 1))
  if range == "unit" then x = x * 2 - 1 end -- the classifier's range
  local digits = autograd.no_grad(function() return classifier(x) end):argmax(2)
  return (metrics.matched_accuracy(cat, digits))
end
-- c1 as a classifier of real digits: Q's most likely c1 for each test image
local Q_real = nn.Sequential { body, q_head }
local function q_accuracy()
  local parts = {}
  for i = 1, test_set.x:size(1), 1000 do
    local q = Q_real:infer(test_set.x:narrow(1, i, math.min(1000, test_set.x:size(1) - i + 1)))
    parts[#parts + 1] = q:narrow(2, 1, NCAT):argmax(2)
  end
  return (metrics.matched_accuracy(tensor.cat(parts, 1), test_set.labels))
end
local classifier = opt.classifier ~= "" and metrics.load_mnist_classifier(opt.classifier) or nil

local total = opt.epochs * ds:num_batches(opt.batch, { drop_last = true })
total = run:set_total(total, opt.max_iters)
local curves = { it = {}, d = {}, g = {}, cat = {}, cont = {} }
local it = 0
for epoch = 1, opt.epochs do
  if it >= total then break end
  for real in ds:batches(opt.batch, { shuffle = true, drop_last = true }) do
    if it >= total then break end
    it = it + 1
    local n = real:size(1)
    local cat, cont = random_codes(n)
    local fake = G(latent(cat, cont))
    -- D and Q: tell real from (detached) fake, and recover the codes
    optD:zero_grad()
    local h = body(fake:detach())
    local q_cat, q_cont = info_terms(q_head(h), cat, cont)
    local d_loss = losses.bce_with_logits(d_head(body(real)), 1) + losses.bce_with_logits(d_head(h), 0)
    ;(d_loss + q_cat + q_cont * opt.lambda_cont):backward()
    optD:step()
    -- G: fool D, and make the codes recoverable
    optG:zero_grad()
    if opt.g_codes == "fresh" then
      cat, cont = random_codes(n)
      fake = G(latent(cat, cont))
    end
    h = body(fake)
    local adv = losses.bce_with_logits(d_head(h), 1)
    local info_cat, info_cont = info_terms(q_head(h), cat, cont)
    ;(adv + info_cat + info_cont * opt.lambda_cont):backward()
    optG:step()

    run:scalar("d_loss", d_loss:item())
    run:scalar("g_loss", adv:item())
    run:scalar("info_cat", q_cat:item()) -- L_I on codes Q had not been trained on yet
    run:scalar("info_cont", q_cont:item())
    local snapshot = it % opt.sample_interval == 0 or it == total
    if snapshot then
      save_grid(grid_images(z_cols, tensor.zeros(10, NCONT)), string.format("codes_%06d.png", it))
      run:scalar("q_accuracy", q_accuracy())
      if classifier then run:scalar("c1_accuracy", c1_accuracy(classifier, 100)) end
    end
    run:step(it, { epoch = epoch })
    if snapshot then run:report() end -- the run's page shows the new grid
    for k, v in pairs { it = it, d = d_loss:item(), g = adv:item(), cat = q_cat:item(), cont = q_cont:item() } do
      curves[k][#curves[k] + 1] = v -- every point; the figure smooths them
    end
  end
end

save_grid(grid_images(z_one, tensor.stack({ sweep, tensor.zeros(10) }, 2)), "c2.png")
save_grid(grid_images(z_one, tensor.stack({ tensor.zeros(10), sweep }, 2)), "c3.png")
if #curves.it > 1 then
  plot.lines({ { name = "D loss", x = curves.it, y = curves.d }, { name = "G loss", x = curves.it, y = curves.g },
               { name = "L_I (c1)", x = curves.it, y = curves.cat }, { name = "L_I (c2, c3)", x = curves.it, y = curves.cont } },
    opt.out .. "/losses.png", { title = "InfoGAN on MNIST", xlabel = "iteration", ylabel = "loss", smooth = 0.9 })
end
assert(ckpt.save(opt.out .. "/ckpt.safetensors", { G = G, body = body, d_head = d_head, q_head = q_head, it = it }))
local summary = string.format("%d iterations; L_I for c1 %.3f (log 10 = 2.303 is chance); Q's c1 on the test digits %.1f%%",
  it, curves.cat[#curves.cat] or 0 / 0, q_accuracy())
if classifier then summary = summary .. string.format(", G's samples by c1 %.1f%%", c1_accuracy(classifier, 200)) end
summary = summary .. " (best one-to-one map of c1 to digits)"
run:print(summary)
run:print("pictures: " .. opt.out .. "/codes_*.png, c2.png, c3.png, losses.png")
run:close()
