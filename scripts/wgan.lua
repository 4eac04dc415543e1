#!/usr/bin/env ganlua
-- wgan.lua — the Wasserstein GAN, as its authors' released code trains it:
--   --variant clip  WGAN (Arjovsky, Chintala & Bottou 2017; their
--                   WassersteinGAN main.py): every critic parameter
--                   clamped to [-0.01, 0.01] before each critic step
--                   ("clamp parameters to a cube", BatchNorm's included),
--                   RMSprop 5e-5 for both networks, a DCGAN critic with
--                   BatchNorm, 5 critic steps per generator step, and 100
--                   for the first 25 generator steps and every 500th;
--   --variant gp    WGAN-GP (Gulrajani et al. 2017; improved_wgan_training):
--                   the penalty lambda (||grad D(xhat)|| - 1)^2 at random
--                   interpolates, lambda 10, Adam 1e-4 (0.5, 0.9), a
--                   critic without normalisation, 5 critic steps.
-- G is DCGAN's generator in both (models.dcgan_generator), batch 64.
--
--   ganlua scripts/wgan.lua --variant gp --data folder:data/emoji --size 64
--   ganlua scripts/wgan.lua --variant clip --data mnist --size 32
--
-- --holdout (10 %) of the images are kept out of training. Every
-- --eval-interval generator steps the critic's Wasserstein estimate,
-- mean D(real) - mean D(fake), is measured on up to 512 held-out images and
-- on as many training images against the same fakes: a training estimate
-- that pulls away from the held-out one is the critic overfitting.
-- Logged per generator step (metrics.jsonl): w_estimate (the critic
-- steps' running value), gp and grad_norm (mean ||grad D(xhat)||) for gp,
-- g_loss; w_train, w_heldout at each evaluation; with --classifier (grey
-- 28 x 28 sets), the FID of 2000 samples at each grid. Writes
-- samples_<step>.png (RGB grids as torchvision's save_image draws them),
-- samples.gif, wasserstein.png (training vs held-out) and curves.png.
local opt = cli.options {
  variant = { "gp", "clip (WGAN) or gp (WGAN-GP)", choices = { "clip", "gp" } },
  data = { "mnist", "mnist, fashion or folder:DIR" },
  size = { 32, "image side", choices = { 32, 64 } },
  epochs = { 5, "passes over the training images (in critic batches)", positive = true },
  batch = { 64, "batch size", positive = true },
  n_critic = { 5, "critic steps per generator step", positive = true },
  lambda = { 10.0, "gradient penalty weight (gp)", min = 0 },
  clip = { 0.01, "weight clipping bound (clip)", positive = true },
  lr = { nil, "learning rate (default: 5e-5 RMSprop for clip, 1e-4 Adam for gp)", type = "number" },
  holdout = { 0.1, "fraction of the images held out for the critic's estimate", min = 0 },
  eval_interval = { 50, "generator steps between held-out estimates", positive = true },
  sample_interval = { 200, "generator steps between sample grids", positive = true },
  max_iters = { 0, "stop after this many generator steps (0: run every epoch)", min = 0 },
  classifier = { "", "checkpoint of mnist_classifier.lua (same --data), for the FID" },
  data_dir = { nil, "directory of the MNIST or Fashion-MNIST files (default: the loader's)", type = "string" },
}
if opt.holdout >= 1 then error("wgan.lua: --holdout must be below 1, got " .. opt.holdout, 0) end
tensor.manual_seed(opt.seed)
local run = log.run(opt)
local S, clip = opt.size, opt.variant == "clip"

local all = data.images(opt.data, { size = S, dir = opt.data_dir })
local ds, held = all, nil
if opt.holdout > 0 then ds, held = data.random_split(all, { 1 - opt.holdout, opt.holdout }) end
local NC = all.x:size(2)
if opt.classifier ~= "" and NC ~= 1 then
  error("wgan.lua: --classifier scores 28 x 28 grey images; --data " .. opt.data .. " is in colour", 0)
end

local NZ = 100
local G = models.dcgan_generator { zdim = NZ, channels = NC, size = S }:apply(models.dcgan_init)
local D = models.dcgan_discriminator { channels = NC, size = S, batchnorm = clip, sigmoid = false }:apply(models.dcgan_init)
local optG, optD
if clip then
  optG = optim.RMSprop(G:parameters(), { lr = opt.lr or 5e-5 })
  optD = optim.RMSprop(D:parameters(), { lr = opt.lr or 5e-5 })
else
  optG = optim.Adam(G:parameters(), { lr = opt.lr or 1e-4, betas = { 0.5, 0.9 } })
  optD = optim.Adam(D:parameters(), { lr = opt.lr or 1e-4, betas = { 0.5, 0.9 } })
end

local classifier = opt.classifier ~= "" and metrics.load_mnist_classifier(opt.classifier) or nil
local test_x = classifier and data.images(opt.data, { split = "test", dir = opt.data_dir }).x:narrow(1, 1, 2000)
local z_fixed = tensor.randn(64, NZ, 1, 1)
local anim = image.animation { nrow = 8, normalize = true, range = { -1, 1 } }

local function grid(step)
  local x = G:infer(z_fixed)
  assert(image.save_grid(x, string.format("%s/samples_%06d.png", opt.out, step), { nrow = 8, normalize = true,
    range = { -1, 1 } }))
  anim:add(x)
  if classifier then
    local parts = {}
    for _ = 1, 4 do parts[#parts + 1] = G:infer(tensor.randn(500, NZ, 1, 1)) end
    local fake = tensor.cat(parts, 1)
    fake = image.resize(fake:reshape(2000, S, S), 28, 28):reshape(2000, 1, 28, 28)
    local fid = metrics.fid(test_x, fake, classifier)
    run:scalar("fid", fid)
    return fid
  end
end

-- the critic's estimate on held-out and on training images, the same fakes
-- for both (D in eval mode: BatchNorm's running statistics, for clip)
local function estimates()
  local n = math.min(512, held:size())
  local fake = G:infer(tensor.randn(n, NZ, 1, 1))
  local d_fake = D:infer(fake):mean():item()
  local real_held = held.x:narrow(1, 1, n)
  local real_train = ds.x:narrow(1, 1, n)
  return D:infer(real_train):mean():item() - d_fake, D:infer(real_held):mean():item() - d_fake
end

local total = run:set_total(opt.epochs * ds:num_batches(opt.batch, { drop_last = true }) // opt.n_critic, opt.max_iters)
local curves = { step = {}, w = {}, norm = {}, fid = {}, eval_step = {}, w_train = {}, w_held = {} }
local step, critic, in_round = 0, 0, 0
local w_sum, gp_sum, norm_sum = 0, 0, 0
-- the authors' schedule for clip: 100 critic steps for the first 25 generator steps and every 500th
local function critic_steps()
  if clip and (step < 25 or step % 500 == 0) then return 100 end
  return opt.n_critic
end
local need = critic_steps()
for epoch = 1, opt.epochs do
  if step >= total then break end
  for real in ds:batches(opt.batch, { shuffle = true, drop_last = true }) do
    if step >= total then break end
    -- a critic step on every batch (G in training mode, as its own step
    -- sees it, without a graph)
    local fake = autograd.no_grad(function() return G(tensor.randn(real:size(1), NZ, 1, 1)) end)
    if clip then -- "clamp parameters to a cube" before each critic step, as main.py does
      autograd.no_grad(function() for _, p in ipairs(D:parameters()) do p:clamp_(-opt.clip, opt.clip) end end)
    end
    optD:zero_grad()
    local d_real, d_fake = D(real):mean(), D(fake):mean()
    local loss = d_fake - d_real
    if not clip then
      local gp, norms = losses.gradient_penalty(D, real, fake, { lambda = opt.lambda })
      loss = loss + gp
      gp_sum, norm_sum = gp_sum + gp:item(), norm_sum + norms:mean():item()
    end
    loss:backward()
    optD:step()
    critic, in_round = critic + 1, in_round + 1
    w_sum = w_sum + (d_real - d_fake):item()
    -- a generator step after the round's critic steps
    if in_round == need then
      step = step + 1
      optG:zero_grad()
      local g_loss = -D(G(tensor.randn(opt.batch, NZ, 1, 1))):mean()
      g_loss:backward()
      optG:step()
      local w = w_sum / in_round
      run:scalar("w_estimate", w)
      if not clip then
        run:scalar("gp", gp_sum / in_round)
        run:scalar("grad_norm", norm_sum / in_round)
        curves.norm[#curves.norm + 1] = norm_sum / in_round
      end
      run:scalar("g_loss", g_loss:item())
      curves.step[#curves.step + 1], curves.w[#curves.w + 1] = step, w
      w_sum, gp_sum, norm_sum, in_round = 0, 0, 0, 0
      need = critic_steps()
      if held and (step % opt.eval_interval == 0 or step == total) then
        local wt, wh = estimates()
        run:scalar("w_train", wt)
        run:scalar("w_heldout", wh)
        curves.eval_step[#curves.eval_step + 1], curves.w_train[#curves.w_train + 1] = step, wt
        curves.w_held[#curves.w_held + 1] = wh
      end
      local snapshot = step % opt.sample_interval == 0 or step == total
      if snapshot then
        local fid = grid(step)
        if fid then curves.fid[#curves.fid + 1] = string.format("%d: %.1f", step, fid) end
      end
      run:step(step, { epoch = epoch })
      if snapshot then run:report() end -- the run's page shows the new grid
      if step >= total then break end
    end
  end
end

local name = (clip and "WGAN (clipping)" or "WGAN-GP") .. " on " .. opt.data .. string.format(" at %dx%d", S, S)
if #curves.step > 1 then
  local series = { { name = "critic's W estimate (training batches)", x = curves.step, y = curves.w } }
  if not clip then series[2] = { name = "mean ||grad D(xhat)||", x = curves.step, y = curves.norm } end
  assert(plot.lines(series, opt.out .. "/curves.png", { title = name, xlabel = "generator step", ylabel = "value" }))
end
if #curves.eval_step > 1 then
  assert(plot.lines({ { name = "training images", x = curves.eval_step, y = curves.w_train },
                      { name = "held-out images", x = curves.eval_step, y = curves.w_held } },
    opt.out .. "/wasserstein.png", { title = name .. ": the critic's estimate", xlabel = "generator step",
      ylabel = "mean D(real) - mean D(fake)" }))
end
if #anim.frames > 0 then assert(anim:save(opt.out .. "/samples.gif", { delay = 0.25 })) end
assert(ckpt.save(opt.out .. "/ckpt.safetensors", { G = G, D = D, step = step }))
run:print(string.format("%d generator steps (%d critic steps); W estimate %.3f%s", step, critic, curves.w[#curves.w] or 0 / 0,
  #curves.w_held > 0 and string.format(" (training %.3f, held-out %.3f)", curves.w_train[#curves.w_train],
    curves.w_held[#curves.w_held]) or ""))
if #curves.fid > 0 then run:print("FID by generator step: " .. table.concat(curves.fid, ", ")) end
run:print("pictures: " .. opt.out .. "/samples_*.png, samples.gif, curves.png, wasserstein.png")
run:close()
