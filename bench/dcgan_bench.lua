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
-- the networks of scripts/dcgan.lua (models.dcgan_*): G with BatchNorm;
-- D with BatchNorm and Sigmoid for dcgan, without either for the critic
local G = models.dcgan_generator { zdim = NZ, width = F, channels = 3, size = size }
local D = models.dcgan_discriminator { width = F, channels = 3, size = size, batchnorm = mode == "dcgan", sigmoid = mode == "dcgan" }
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
