#!/usr/bin/env ganlua
-- wgan_gp.lua — WGAN-GP on MNIST (Gulrajani et al. 2017): a convolutional
-- critic without normalisation layers takes --n-critic steps per generator
-- step, its loss D(fake) - D(real) plus the gradient penalty
-- lambda (||grad D(xhat)|| - 1)^2 at random interpolates xhat; Adam 1e-4
-- (0.5, 0.9) for both networks, as in the paper; batch 64.
--
--   ganlua scripts/wgan_gp.lua --epochs 5 --classifier runs/classifier/classifier.safetensors
--
-- G: z(128) -> FC 7x7x128, BN, ReLU -> ConvT 64 (4x4, stride 2), BN, ReLU
--    -> ConvT 1 (4x4, stride 2), Tanh
-- D: Conv 64 (4x4, stride 2), LReLU 0.2 -> Conv 128 (4x4, stride 2),
--    LReLU 0.2 -> FC 1
--
-- Logged per generator step (metrics.jsonl): w_estimate (mean D(real) -
-- mean D(fake), the critic's estimate of the Wasserstein distance, which
-- falls as the samples improve), gp, grad_norm (mean ||grad D(xhat)||,
-- which the penalty holds near 1) and g_loss; with --classifier, the FID
-- of 2000 samples against 2000 test images at each grid. Writes
-- samples_<step>.png, samples.gif and curves.png to --out.
local opt = cli.options {
  epochs = { 5, "passes over the 60000 training images (in critic batches)", positive = true },
  batch = { 64, "batch size", positive = true },
  n_critic = { 5, "critic steps per generator step", positive = true },
  lambda = { 10.0, "gradient penalty weight", min = 0 },
  lr = { 1e-4, "Adam learning rate (both networks)", positive = true },
  sample_interval = { 200, "generator steps between sample grids", positive = true },
  max_iters = { 0, "stop after this many generator steps (0: run every epoch)", min = 0 },
  classifier = { "", "checkpoint of mnist_classifier.lua, for the FID" },
  data_dir = data.dir_option("MNIST"),
}
tensor.manual_seed(opt.seed)
local run = log.run(opt)
local dir = opt.data_dir
local ds = data.mnist { split = "train", dir = dir }

local NZ = 128
local G = nn.Sequential {
  nn.Linear(NZ, 7 * 7 * 128), nn.BatchNorm1d(7 * 7 * 128), nn.ReLU(), nn.Reshape(128, 7, 7),
  nn.ConvTranspose2d(128, 64, 4, { stride = 2, padding = 1 }), nn.BatchNorm2d(64), nn.ReLU(),
  nn.ConvTranspose2d(64, 1, 4, { stride = 2, padding = 1 }), nn.Tanh(),
}
local D = nn.Sequential {
  nn.Conv2d(1, 64, 4, { stride = 2, padding = 1 }), nn.LeakyReLU(0.2),
  nn.Conv2d(64, 128, 4, { stride = 2, padding = 1 }), nn.LeakyReLU(0.2), nn.Flatten(),
  nn.Linear(128 * 7 * 7, 1),
}
local optG = optim.Adam(G:parameters(), { lr = opt.lr, betas = { 0.5, 0.9 } })
local optD = optim.Adam(D:parameters(), { lr = opt.lr, betas = { 0.5, 0.9 } })

local classifier = opt.classifier ~= "" and metrics.load_mnist_classifier(opt.classifier) or nil
local test_x = classifier and data.mnist { split = "test", dir = dir }.x:narrow(1, 1, 2000)
local z_fixed = tensor.randn(64, NZ)
local anim = image.animation { nrow = 8, normalize = true, range = { -1, 1 } }

local function samples(n)
  G:eval()
  local x = autograd.no_grad(function() return G(tensor.randn(n, NZ)) end)
  G:train()
  return x
end
local function grid(step)
  G:eval()
  local x = autograd.no_grad(function() return G(z_fixed) end)
  G:train()
  assert(image.save_grid(x, string.format("%s/samples_%06d.png", opt.out, step), { nrow = 8, normalize = true,
    range = { -1, 1 } }))
  anim:add(x)
  if classifier then
    local fid = metrics.fid(test_x, samples(2000), classifier)
    run:scalar("fid", fid)
    return fid
  end
end

local per_epoch = ds:num_batches(opt.batch, { drop_last = true })
local total = opt.epochs * per_epoch // opt.n_critic
total = run:set_total(total, opt.max_iters)
local curves = { step = {}, w = {}, norm = {}, fid = {} }
local step, critic = 0, 0
local w_sum, gp_sum, norm_sum = 0, 0, 0
for epoch = 1, opt.epochs do
  if step >= total then break end
  for real in ds:batches(opt.batch, { shuffle = true, drop_last = true }) do
    if step >= total then break end
    -- a critic step on every batch
    local fake = autograd.no_grad(function() return G(tensor.randn(real:size(1), NZ)) end)
    optD:zero_grad()
    local d_real, d_fake = D(real):mean(), D(fake):mean()
    local gp, norms = losses.gradient_penalty(D, real, fake, { lambda = opt.lambda })
    ;(d_fake - d_real + gp):backward()
    optD:step()
    critic = critic + 1
    w_sum, gp_sum, norm_sum = w_sum + (d_real - d_fake):item(), gp_sum + gp:item(), norm_sum + norms:mean():item()
    -- a generator step after every n_critic critic steps
    if critic % opt.n_critic == 0 then
      step = step + 1
      optG:zero_grad()
      local g_loss = -D(G(tensor.randn(opt.batch, NZ))):mean()
      g_loss:backward()
      optG:step()
      local w = w_sum / opt.n_critic
      run:scalar("w_estimate", w)
      run:scalar("gp", gp_sum / opt.n_critic)
      run:scalar("grad_norm", norm_sum / opt.n_critic)
      run:scalar("g_loss", g_loss:item())
      curves.step[#curves.step + 1], curves.w[#curves.w + 1] = step, w
      curves.norm[#curves.norm + 1] = norm_sum / opt.n_critic
      w_sum, gp_sum, norm_sum = 0, 0, 0
      if step % opt.sample_interval == 0 or step == total then
        local fid = grid(step)
        if fid then curves.fid[#curves.fid + 1] = string.format("%d: %.1f", step, fid) end
      end
      run:step(step, { epoch = epoch })
      if step >= total then break end
    end
  end
end

local series = { { name = "critic's W estimate", x = curves.step, y = curves.w },
                 { name = "mean ||grad D(xhat)||", x = curves.step, y = curves.norm } }
if #curves.step > 1 then
  plot.lines(series, opt.out .. "/curves.png", { title = "WGAN-GP on MNIST", xlabel = "generator step",
    ylabel = "W estimate, gradient norm" })
end
if #anim.frames > 0 then assert(anim:save(opt.out .. "/samples.gif", { delay = 0.25 })) end
assert(ckpt.save(opt.out .. "/ckpt.safetensors", { G = G, D = D, step = step }))
run:print(string.format("%d generator steps (%d critic steps); W estimate %.3f, mean gradient norm %.3f", step, critic,
  curves.w[#curves.w] or 0 / 0, curves.norm[#curves.norm] or 0 / 0))
if #curves.fid > 0 then run:print("FID by generator step: " .. table.concat(curves.fid, ", ")) end
run:print("pictures: " .. opt.out .. "/samples_*.png, samples.gif, curves.png")
run:close()
