-- bench/dcgan_bench.lua MODE SIZE [ITERS] — microseconds per iteration of
-- a whole DCGAN step (Radford et al. 2016, the architecture of PyTorch's
-- examples/dcgan: batch 64, nz 100, 64 feature maps at the widest end,
-- Adam 2e-4, betas 0.5, 0.999) on random images; bench/dcgan_bench_torch.py
-- is the same in PyTorch.
--   dcgan 32|64   one D step (real and fake, BCE) and one G step
--   critic 64     a WGAN critic step: D without BatchNorm or sigmoid,
--                 loss D(fake) - D(real), Adam 1e-4, betas 0, 0.9
--   gp 64         the same plus WGAN-GP's penalty (lambda 10), whose
--                 gradient runs back through the convolutions
-- Prints the mean over ITERS (default 10) after 3 warm-up iterations.
local mode, size, iters = arg[1], tonumber(arg[2]), tonumber(arg[3] or 10)
assert((mode == "dcgan" or mode == "critic" or mode == "gp") and (size == 32 or size == 64), "usage: dcgan_bench.lua dcgan|critic|gp 32|64 [iters]")
tensor.manual_seed(0)
local B, NZ, F = 64, 100, 64
local layers = size == 64 and 4 or 3 -- stride-2 stages after the 4x4 start

local function generator()
  local ch = F << (layers - 1)
  local m = { nn.ConvTranspose2d(NZ, ch, 4, { bias = false }), nn.BatchNorm2d(ch), nn.ReLU() }
  for _ = 2, layers do
    local m_ = { nn.ConvTranspose2d(ch, ch // 2, 4, { stride = 2, padding = 1, bias = false }), nn.BatchNorm2d(ch // 2), nn.ReLU() }
    for _, l in ipairs(m_) do m[#m + 1] = l end
    ch = ch // 2
  end
  m[#m + 1] = nn.ConvTranspose2d(ch, 3, 4, { stride = 2, padding = 1, bias = false })
  m[#m + 1] = nn.Tanh()
  return nn.Sequential(m)
end

local function discriminator(bn, sigmoid)
  local m = { nn.Conv2d(3, F, 4, { stride = 2, padding = 1, bias = false }), nn.LeakyReLU(0.2) }
  local ch = F
  for _ = 2, layers do
    m[#m + 1] = nn.Conv2d(ch, ch * 2, 4, { stride = 2, padding = 1, bias = false })
    if bn then m[#m + 1] = nn.BatchNorm2d(ch * 2) end
    m[#m + 1] = nn.LeakyReLU(0.2)
    ch = ch * 2
  end
  m[#m + 1] = nn.Conv2d(ch, 1, 4, { bias = false })
  if sigmoid then m[#m + 1] = nn.Sigmoid() end
  m[#m + 1] = nn.Flatten()
  return nn.Sequential(m)
end

local G = generator()
local D = discriminator(mode == "dcgan", mode == "dcgan")
local real = tensor.rand(B, 3, size, size) * 2 - 1
local step
if mode == "dcgan" then
  local optG = optim.Adam(G:parameters(), { lr = 2e-4, betas = { 0.5, 0.999 } })
  local optD = optim.Adam(D:parameters(), { lr = 2e-4, betas = { 0.5, 0.999 } })
  local ones, zeros = tensor.ones(B, 1), tensor.zeros(B, 1)
  step = function()
    local fake = G(tensor.randn(B, NZ, 1, 1))
    optD:zero_grad()
    local d_loss = losses.bce(D(real), ones) + losses.bce(D(fake:detach()), zeros)
    d_loss:backward()
    optD:step()
    optG:zero_grad()
    local g_loss = losses.bce(D(fake), ones)
    g_loss:backward()
    optG:step()
  end
else
  local optD = optim.Adam(D:parameters(), { lr = 1e-4, betas = { 0.0, 0.9 } })
  step = function()
    local fake = autograd.no_grad(function() return G(tensor.randn(B, NZ, 1, 1)) end)
    optD:zero_grad()
    local loss = D(fake):mean() - D(real):mean()
    if mode == "gp" then loss = loss + losses.gradient_penalty(D, real, fake, { lambda = 10 }) end
    loss:backward()
    optD:step()
  end
end
for _ = 1, 3 do step() end
local t0 = sys.time()
for _ = 1, iters do step() end
print(string.format("%.1f", (sys.time() - t0) / iters * 1e6))
