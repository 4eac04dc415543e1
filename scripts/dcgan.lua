#!/usr/bin/env ganlua
-- dcgan.lua — DCGAN (Radford, Metz & Chintala 2016) as PyTorch's DCGAN
-- tutorial and examples/dcgan build it: G is a stack of ConvTranspose2d
-- (4x4, stride 2) + BatchNorm + ReLU from a 4x4 start to the image, Tanh
-- out; D mirrors it with Conv2d (4x4, stride 2) + BatchNorm (not on the
-- first layer) + LeakyReLU 0.2, Sigmoid out; no biases; every weight from
-- N(0, 0.02), BatchNorm's scale from N(1, 0.02); Adam 2e-4 (0.5, 0.999);
-- batch 128 (the paper's); 64 feature maps at the widest end. The
-- networks are models.dcgan_generator and models.dcgan_discriminator.
--
--   ganlua scripts/dcgan.lua --data fashion --size 32 --epochs 2
--   ganlua scripts/dcgan.lua --data folder:data/emoji --size 64
--
-- --data mnist | fashion | folder:DIR (an ImageFolder of colour images;
-- data.images): the 28 x 28 sets are resized to --size (as torchvision's
-- Resize in the tutorial), a folder's images centre-cropped and resized.
-- --gloss picks the generator loss: saturating (min log(1 - D(G(z))), the
-- minimax game), nonsaturating (max log D(G(z)), the default) or hinge
-- (hinge losses on D's logits, for D and G). With
-- --classifier (scripts/mnist_classifier.lua, --data mnist or fashion to
-- match), the classifier's Inception Score of 2000 samples and their FID
-- against 2000 test images are logged every --sample-interval iterations
-- (the samples resized back to 28 x 28). Writes samples_<it>.png (8 x 8,
-- fixed z), samples.gif, losses.png, scores.png and ckpt.safetensors.
--
-- Under mpirun the ranks train one model (data parallel, as mnist_gan.lua):
-- --batch rows each of every global batch, gradients averaged over the
-- ranks, BatchNorm statistics per rank (--sync-bn: the global batch's);
-- rank 0 writes every file.
local opt = cli.options {
  data = { "fashion", "mnist, fashion or folder:DIR" },
  size = { 32, "image side", choices = { 32, 64 } },
  epochs = { 1, "passes over the training images", positive = true },
  batch = { 128, "batch size", positive = true },
  zdim = { 100, "latent size", positive = true },
  width = { 64, "feature maps at the widest end (ngf = ndf)", positive = true },
  lr = { 2e-4, "Adam learning rate (both networks)", positive = true },
  gloss = { "nonsaturating", "generator loss", choices = { "saturating", "nonsaturating", "hinge" } },
  sample_interval = { 200, "iterations between sample grids and scores", positive = true },
  max_iters = { 0, "stop after this many iterations (0: run every epoch)", min = 0 },
  classifier = { "", "checkpoint of mnist_classifier.lua (same --data) for the scores" },
  keep = { 2, "checkpoints kept, one per sample interval (out/ckpt_<iteration>.safetensors; the best Inception Score also as out/best.safetensors)", min = 0 },
  data_dir = { nil, "directory of the MNIST or Fashion-MNIST files (default: the loader's)", type = "string" },
  sync_bn = { false, "under mpirun: BatchNorm over the global batch (nn.SyncBatchNorm), not per rank" },
}
tensor.manual_seed(opt.seed)
local run = log.run(opt)
local S = opt.size

-- the training images, N x C x S x S in [-1, 1], and test images for the FID
local ds = data.images(opt.data, { size = S, dir = opt.data_dir })
local NC = ds.x:size(2)
if opt.classifier ~= "" and NC ~= 1 then
  error("dcgan.lua: --classifier scores 28 x 28 grey images; --data " .. opt.data .. " is in colour", 0)
end
local test_x = opt.classifier ~= "" and data.images(opt.data, { split = "test", dir = opt.data_dir }).x:narrow(1, 1, 2000)

-- the networks (models.dcgan_generator / _discriminator) and their init
local G = models.dcgan_generator { zdim = opt.zdim, width = opt.width, channels = NC, size = S }:apply(models.dcgan_init)
local D = models.dcgan_discriminator { width = opt.width, channels = NC, size = S }:apply(models.dcgan_init)
if opt.sync_bn then
  G, D = nn.SyncBatchNorm.convert_sync_batchnorm(G), nn.SyncBatchNorm.convert_sync_batchnorm(D)
end
local D_logits = D:slice(1, -2) -- D without its Sigmoid, for the hinge loss
local optG = optim.Adam(G:parameters(), { lr = opt.lr, betas = { 0.5, 0.999 } })
local optD = optim.Adam(D:parameters(), { lr = opt.lr, betas = { 0.5, 0.999 } })
local ranks, rank = dist.size(), dist.rank()
dist.broadcast_parameters(G); dist.broadcast_parameters(D)

local classifier = opt.classifier ~= "" and metrics.load_mnist_classifier(opt.classifier) or nil
local z_fixed = tensor.randn(64, opt.zdim, 1, 1)
local anim = image.animation { nrow = 8, normalize = true, range = { -1, 1 } }
local scores = { it = {}, is = {}, fid = {} }
local checkpoints = opt.keep > 0 and ckpt.manager(opt.out, { keep = opt.keep, best = "inception_score" })
-- on every rank (the RNG stays the same on all), written by rank 0
local function sample_grid(it)
  local zs = {}
  for i = 1, classifier and 4 or 0 do zs[i] = tensor.randn(500, opt.zdim, 1, 1) end
  if not dist.is_main() then return end
  local s = G:infer(z_fixed)
  assert(image.save_grid(s, string.format("%s/samples_%06d.png", opt.out, it), { nrow = 8, normalize = true, range = { -1, 1 } }))
  anim:add(s)
  if classifier then
    local parts = {}
    for _, z in ipairs(zs) do parts[#parts + 1] = G:infer(z) end
    local x = tensor.cat(parts, 1)
    x = image.resize(x:reshape(2000, S, S), 28, 28):reshape(2000, 1, 28, 28)
    local is = metrics.inception_score(x, classifier)
    local fid = metrics.fid(test_x, x, classifier)
    run:scalar("inception_score", is)
    run:scalar("fid", fid)
    scores.it[#scores.it + 1], scores.is[#scores.is + 1], scores.fid[#scores.fid + 1] = it, is, fid
  end
  if checkpoints then
    checkpoints:save(it, { G = G, D = D, optG = optG, optD = optD, it = it },
      { inception_score = scores.it[#scores.it] == it and scores.is[#scores.is] or nil })
  end
end

local total = run:set_total(opt.epochs * ds:num_batches(opt.batch, { drop_last = true, shard = true }), opt.max_iters)
local curves = { it = {}, d = {}, g = {}, dx = {}, dgz = {} }
local it = 0
for epoch = 1, opt.epochs do
  if it >= total then break end
  for real in ds:batches(opt.batch, { shuffle = true, drop_last = true, shard = true }) do
    if it >= total then break end
    it = it + 1
    local n = real:size(1)
    -- D: real towards 1, fake towards 0 (or the hinge); z: this rank's
    -- rows of the global batch's
    local z = tensor.randn(n * ranks, opt.zdim, 1, 1)
    if ranks > 1 then z = z:narrow(1, rank * n + 1, n) end
    local fake = G(z)
    optD:zero_grad()
    local d_loss, d_real, d_fake
    if opt.gloss == "hinge" then
      d_real, d_fake = D_logits(real), D_logits(fake:detach())
      d_loss = losses.hinge_d(d_real, d_fake)
      d_real, d_fake = d_real:sigmoid(), d_fake:sigmoid()
    else
      d_real, d_fake = D(real), D(fake:detach())
      d_loss = losses.bce(d_real, 1) + losses.bce(d_fake, 0)
    end
    d_loss:backward()
    dist.average_gradients(D)
    optD:step()
    -- G
    optG:zero_grad()
    local g_loss
    if opt.gloss == "hinge" then g_loss = losses.hinge_g(D_logits(fake))
    elseif opt.gloss == "saturating" then g_loss = -losses.bce(D(fake), 0) -- mean log(1 - D(G(z)))
    else g_loss = losses.bce(D(fake), 1) end
    g_loss:backward()
    dist.average_gradients(G)
    optG:step()
    local stats = { d_loss:item(), g_loss:item(), d_real:mean():item(), d_fake:mean():item() }
    if ranks > 1 then stats = dist.allreduce(tensor.from(stats), "mean"):totable() end
    run:scalar("d_loss", stats[1])
    run:scalar("g_loss", stats[2])
    run:scalar("d_x", stats[3])
    run:scalar("d_g_z", stats[4])
    local snapshot = it % opt.sample_interval == 0 or it == total
    if snapshot then sample_grid(it) end
    run:step(it, { epoch = epoch })
    if snapshot then run:report() end -- the run's page shows the new grid
    curves.it[#curves.it + 1], curves.d[#curves.d + 1], curves.g[#curves.g + 1] = it, stats[1], stats[2]
  end
end

if not dist.is_main() then return run:close() end
local title = string.format("DCGAN on %s at %dx%d (%s)", opt.data, S, S, opt.gloss)
if #curves.it > 1 then
  assert(plot.lines({ { name = "D loss", x = curves.it, y = curves.d }, { name = "G loss", x = curves.it, y = curves.g } },
    opt.out .. "/losses.png", { title = title, xlabel = "iteration", ylabel = "loss", smooth = 0.9 }))
end
if #scores.it > 1 then
  assert(plot.lines({ { name = "Inception Score", x = scores.it, y = scores.is } }, opt.out .. "/scores.png",
    { title = title, xlabel = "iteration", ylabel = "Inception Score (classifier)" }))
end
if #anim.frames > 0 then assert(anim:save(opt.out .. "/samples.gif", { delay = 0.25 })) end
assert(ckpt.save(opt.out .. "/ckpt.safetensors", { G = G, D = D, it = it }))
if #scores.it > 0 then
  run:print(string.format("%d iterations; last Inception Score %.3f, FID %.2f", it, scores.is[#scores.is], scores.fid[#scores.fid]))
else
  run:print(string.format("%d iterations", it))
end
run:print("pictures: " .. opt.out .. "/samples_*.png, samples.gif, losses.png" .. (#scores.it > 1 and ", scores.png" or ""))
run:close()
