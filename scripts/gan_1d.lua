#!/usr/bin/env ganlua
-- gan_1d.lua — the one-dimensional picture of the original GAN paper
-- (Goodfellow et al. 2014, Figure 1): data from N(mu, sigma), a small G
-- mapping uniform noise to the line and a small D; frames over training
-- show the data density, the density of G(z) and D(x) on one axis.
--
--   ganlua scripts/gan_1d.lua --steps 3000 --frames 30
local opt = cli.options {
  steps = { 3000, "training iterations", positive = true },
  frames = { 30, "pictures over training (also the GIF's frames)", positive = true },
  batch = { 128, "batch size", positive = true },
  mu = { 1.0, "mean of the data" },
  sigma = { 0.5, "std of the data", positive = true },
  lr = { 1e-3, "Adam learning rate", positive = true },
}
tensor.manual_seed(opt.seed)
local run = log.run(opt)

local G = nn.Sequential { nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1) }
local D = nn.Sequential { nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1) }
local optG = optim.Adam(G:parameters(), { lr = opt.lr, betas = { 0.5, 0.999 } })
local optD = optim.Adam(D:parameters(), { lr = opt.lr, betas = { 0.5, 0.999 } })

local function real(n) return tensor.randn(n, 1) * opt.sigma + opt.mu end
local function noise(n) return tensor.rand(n, 1) * 2 - 1 end

-- the axis, and the densities drawn on it
local lo, hi = opt.mu - 5 * opt.sigma, opt.mu + 5 * opt.sigma
local xs = tensor.linspace(lo, hi, 200):reshape(200, 1)
local xt = xs:reshape(-1):totable()
local pdata = {}
for i, x in ipairs(xt) do pdata[i] = math.exp(-0.5 * ((x - opt.mu) / opt.sigma) ^ 2) / (opt.sigma * math.sqrt(2 * math.pi)) end

-- density of G(z) by a histogram of 20000 samples on the same axis
local function pg()
  local s = autograd.no_grad(function() return G(noise(20000)) end):reshape(-1):totable()
  local bins, width = {}, (hi - lo) / 60
  for b = 1, 60 do bins[b] = 0 end
  for _, v in ipairs(s) do
    local b = math.floor((v - lo) / width) + 1
    if b >= 1 and b <= 60 then bins[b] = bins[b] + 1 end
  end
  local bx, by = {}, {}
  for b = 1, 60 do bx[b] = lo + (b - 0.5) * width; by[b] = bins[b] / (#s * width) end
  return bx, by
end

-- the frames' y-limit: every curve fits, however narrow p_g becomes (a
-- fixed limit cut off a collapsing G's peak); never below D's 1 or the
-- data's own peak, so frames of a healthy run share one scale
local function top(gy)
  local m = math.max(1, 1 / (opt.sigma * math.sqrt(2 * math.pi)))
  for _, v in ipairs(gy) do m = math.max(m, v) end
  return m
end

local anim = image.animation()
local function frame(step, k)
  local dx = autograd.no_grad(function() return D(xs):sigmoid() end):reshape(-1):totable()
  local gx, gy = pg()
  local path = string.format("%s/frame_%03d.png", opt.out, k)
  assert(plot.lines({
    { name = "p_data", x = xt, y = pdata },
    { name = "p_g (G(z))", x = gx, y = gy },
    { name = "D(x)", x = xt, y = dx },
  }, path, { title = string.format("step %d", step), xlabel = "x", ylabel = "density, D(x)", ylim = { 0, 1.05 * top(gy) } }))
  local img = image.load(path, 3)
  if img then anim:add(img) end
end

local k = 0
frame(0, k)
for step = 1, opt.steps do
  local x, z = real(opt.batch), noise(opt.batch)
  optD:zero_grad()
  local d_loss = losses.bce_with_logits(D(x), 1) + losses.bce_with_logits(D(G(z):detach()), 0)
  d_loss:backward()
  optD:step()
  optG:zero_grad()
  local g_loss = losses.bce_with_logits(D(G(noise(opt.batch))), 1)
  g_loss:backward()
  optG:step()
  if step % 50 == 0 then
    run:scalar("d_loss", d_loss:item())
    run:scalar("g_loss", g_loss:item())
    run:step(step)
  end
  if step % math.max(1, opt.steps // opt.frames) == 0 then
    k = k + 1
    frame(step, k)
  end
end
assert(anim:save(opt.out .. "/gan_1d.gif", { delay = 0.2 }))
local s = autograd.no_grad(function() return G(noise(20000)) end)
run:print(string.format("G(z): mean %.3f (data %.3f), std %.3f (data %.3f); frames and gan_1d.gif in %s",
  s:mean():item(), opt.mu, s:std():item(), opt.sigma, opt.out))
run:close()
