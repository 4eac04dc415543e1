#!/usr/bin/env ganlua
-- toy_gan.lua — mode collapse on a ring of 8 Gaussians, the setting of
-- Unrolled GAN's Figure 2 as a well-known replication runs it: 10000 points
-- (radius 2, std 0.02) scaled into [-1, 1]; G: z(100) -> 128 -> 128 -> 2,
-- D: 2 -> 128 -> 1 (ReLU); batch 128, 200 epochs, Adam 1e-4 (0.5, 0.999).
--
--   ganlua scripts/toy_gan.lua --variant minibatch --seed 1
--
-- Variants: vanilla (non-saturating BCE), fm (G matches the batch mean of
-- D's hidden ReLU features; D has two class logits), fm_lambda (adversarial
-- + lambda * feature matching), minibatch (minibatch discrimination after
-- D's hidden layer, B = 32, C = 8), wgan (weight clipping 0.01, RMSprop
-- 5e-5), wgan_gp (2 -> 128 -> 128 -> 1 critic, gradient penalty 10, Adam
-- 1e-4 (0.5, 0.9)). The WGANs take a critic step on every batch and a
-- generator step on every n_critic-th batch.
--
-- Writes to --out: config.json, metrics.jsonl, samples/epoch_*.csv (2500
-- generated points at each panel), panels.png (KDE of G's samples over
-- training, the data's own KDE last), final.png, summary.json.
local opt = cli.options {
  variant = { "vanilla", "GAN variant", choices = { "vanilla", "fm", "fm_lambda", "minibatch", "wgan", "wgan_gp" } },
  dataset = { "ring", "toy data", choices = { "ring", "grid" } },
  epochs = { 200, "passes over the 10000 points", positive = true },
  batch = { 128, "batch size", min = 2 },
  zdim = { 100, "latent size", positive = true },
  lambda = { 10.0, "feature-matching weight (fm_lambda)", min = 0 },
  lr = { type = "number", desc = "learning rate of both players (default 1e-4; 5e-5 for wgan)", positive = true },
  mbd_data_init = { false, "minibatch: the released code's data-based initialisation on the first real batch" },
  n_critic = { 5, "critic steps per generator step (wgan, wgan_gp)", positive = true },
  panels = { 6, "KDE panels over training", positive = true },
  samples = { 2500, "generated points per panel and for the metrics", positive = true },
  log_every = { 100, "iterations between metrics.jsonl lines", positive = true },
}
tensor.manual_seed(opt.seed)
local run = log.run(opt)
local clock = (sys and sys.time) or os.clock

-- data: scaled into [-1, 1]; centres and sigma scale with it
local make = opt.dataset == "ring" and data.gaussian_ring or data.gaussian_grid
local ds = make { n = 10000, modes = 8, radius = 2, std = 0.02, normalize = true }
local val = make { n = 2000, modes = 8, radius = 2, std = 0.02 }.x * ds.scale -- held out, same scale

-- networks
local v = opt.variant
local G = nn.Sequential { nn.Linear(opt.zdim, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2) }
local D
if v == "minibatch" then
  D = nn.Sequential { nn.Linear(2, 128), nn.ReLU(), nn.MinibatchDiscrimination(128, 32, 8), nn.Linear(160, 1) }
elseif v == "wgan_gp" then
  D = nn.Sequential { nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1) }
else
  D = nn.Sequential { nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, v == "fm" and 2 or 1) }
end
-- Feature matching's f(x): D's hidden layer after its ReLU, as the released
-- code matches it (improved-gan, train_mnist_feature_matching.py: the
-- output of layers[-3], a DenseLayer with its ReLU). The pre-activation
-- W x + b, used here before, is linear in x: matching its batch mean only
-- matched the data's mean, and G collapsed onto the ring's centre.
local function features(x) return D[2](D[1](x)) end
if v == "minibatch" and opt.mbd_data_init then
  local first = ds.x:narrow(1, 1, opt.batch)
  autograd.no_grad(function() D[3]:data_init(D[2](D[1](first))) end)
end

local optG, optD
if v == "wgan" then
  local lr = opt.lr or 5e-5
  optG, optD = optim.RMSprop(G:parameters(), { lr = lr }), optim.RMSprop(D:parameters(), { lr = lr })
else
  local lr, betas = opt.lr or 1e-4, v == "wgan_gp" and { 0.5, 0.9 } or { 0.5, 0.999 }
  optG = optim.Adam(G:parameters(), { lr = lr, betas = betas, eps = 1e-8 })
  optD = optim.Adam(D:parameters(), { lr = lr, betas = betas, eps = 1e-8 })
end

local REAL, FAKE = tensor.ones(opt.batch), tensor.full({ opt.batch }, 2) -- class targets for fm
local function fmt(v) return v ~= v and "n/a" or string.format("%.3f", v) end

local function noise(n) return tensor.randn(n, opt.zdim) end
local function classes(t, n) return t:narrow(1, 1, n) end

-- one discriminator (critic) step on real and (detached) fake; returns its loss
local function d_step(real, fake)
  local n = real:size(1)
  fake = fake:detach()
  optD:zero_grad()
  local loss
  if v == "fm" then
    loss = losses.cross_entropy(D(real), classes(REAL, n)) + losses.cross_entropy(D(fake), classes(FAKE, n))
  elseif v == "wgan" or v == "wgan_gp" then
    loss = losses.wasserstein_d(D(real), D(fake))
    if v == "wgan_gp" then loss = loss + losses.gradient_penalty(D, real, fake, { lambda = 10 }) end
  else
    loss = losses.bce_with_logits(D(real), 1) + losses.bce_with_logits(D(fake), 0)
  end
  loss:backward()
  optD:step()
  if v == "wgan" then optim.clip_weights(D, 0.01) end
  return loss:item()
end

-- one generator step through the same fake batch; returns its loss
local function g_step(real, fake)
  optG:zero_grad()
  local loss
  if v == "fm" then
    local f_real = autograd.no_grad(function() return features(real) end)
    loss = losses.feature_matching(f_real, features(fake))
  elseif v == "fm_lambda" then
    local f_real = autograd.no_grad(function() return features(real) end)
    loss = losses.bce_with_logits(D(fake), 1) + losses.feature_matching(f_real, features(fake)) * opt.lambda
  elseif v == "wgan" or v == "wgan_gp" then
    loss = losses.wasserstein_g(D(fake))
  else
    loss = losses.bce_with_logits(D(fake), 1)
  end
  loss:backward()
  optG:step()
  return loss:item()
end

-- generated samples and their mode statistics
local function snapshot(epoch)
  local s = G:infer(noise(opt.samples))
  local m = metrics.modes(s, ds.centers, ds.sigma)
  assert(data.write_csv(s, string.format("%s/samples/epoch_%04d.csv", opt.out, epoch), "x,y"))
  return s, m
end

local panel_epochs, panels = {}, {}
for k = 1, opt.panels do panel_epochs[math.max(1, math.floor(k * opt.epochs / opt.panels + 0.5))] = true end
assert(sys.mkdir(opt.out .. "/samples"))

local wgan = v == "wgan" or v == "wgan_gp"
local per_epoch = ds:num_batches(opt.batch)
run:set_total(opt.epochs * per_epoch)
local it, g_loss, last_d, t0 = 0, 0 / 0, 0 / 0, clock()
for epoch = 1, opt.epochs do
  for real in ds:batches(opt.batch, { shuffle = true }) do
    it = it + 1
    local n = real:size(1)
    if not wgan or it % opt.n_critic == 0 then
      local fake = G(noise(n)) -- one G forward serves both steps, as in the DCGAN recipe
      local d_loss = d_step(real, fake)
      g_loss = g_step(real, fake)
      last_d = d_loss
      if it % opt.log_every == 0 then
        run:gan_stats { step = it, G = G, real = real, fake = fake, d_real = autograd.no_grad(function() return D(real) end),
                        d_fake = autograd.no_grad(function() return D(fake) end) }
      end
    else
      last_d = d_step(real, autograd.no_grad(function() return G(noise(n)) end))
    end
    local d_loss = last_d
    if it % opt.log_every == 0 then
      run:scalar("d_loss", d_loss)
      run:scalar("g_loss", g_loss)
      if v == "wgan_gp" then
        -- the critic's Wasserstein estimate on held-out data, beside training's
        autograd.no_grad(function()
          local vr = val:narrow(1, 1 + (it // opt.log_every * 97) % (2000 - opt.batch), opt.batch)
          run:scalar("d_loss_val", losses.wasserstein_d(D(vr), D(G(noise(opt.batch)))):item())
          run:scalar("d_loss_train", losses.wasserstein_d(D(real), D(G(noise(real:size(1))))):item())
        end)
      end
      run:step(it, { epoch = epoch })
    end
  end
  if panel_epochs[epoch] then
    local s, m = snapshot(epoch)
    panels[#panels + 1] = { samples = s, title = string.format("epoch %d · %d modes", epoch, m.modes) }
    run:scalar("modes", m.modes)
    run:scalar("hq_percent", m.hq)
    run:scalar("kl", m.kl)
    run:step(it, { epoch = epoch })
    run:print(string.format("epoch %d: %d modes, %.1f%% high quality, KL %s", epoch, m.modes, m.hq, fmt(m.kl)))
  end
end
local seconds = clock() - t0

local final = panels[#panels].samples
local m = metrics.modes(final, ds.centers, ds.sigma)
panels[#panels + 1] = { samples = ds.x:narrow(1, 1, opt.samples), title = "data" }
plot.panels({ { label = v, panels = panels } }, opt.out .. "/panels.png", { centers = ds.centers })
plot.kde(final, opt.out .. "/final.png", {
  centers = ds.centers, title = string.format("%s, seed %d: %d/%d modes, %.1f%% HQ", v, opt.seed, m.modes,
    ds.centers:size(1), m.hq) })
log.write_json(opt.out .. "/summary.json", {
  variant = v, seed = opt.seed, dataset = opt.dataset, epochs = opt.epochs, iterations = it,
  modes = m.modes, hq_percent = m.hq, kl = m.kl, kl_all = m.kl_all, dist_sigma = m.dist, counts = m.counts, seconds = seconds, it_per_s = it / seconds,
})
run:print(string.format("%s seed %d: %d modes, %.1f%% high quality, KL %s, %d iterations in %.1f s (%.0f it/s)",
  v, opt.seed, m.modes, m.hq, fmt(m.kl), it, seconds, it / seconds))
run:print("pictures: " .. opt.out .. "/panels.png, " .. opt.out .. "/final.png")
run:close()
