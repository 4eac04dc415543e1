-- bench/wgan_round_check.lua DATA OUT [VARIANT] — one round of scripts/wgan.lua
-- (5 critic steps and a generator step, batch 64, 32x32) from weights and
-- batches saved to OUT/round0.safetensors, the result to OUT/round1.safetensors;
-- bench/wgan_round_check.py OUT [VARIANT] runs the same round in PyTorch from
-- round0 and prints the losses and each parameter's largest difference;
-- before the round, the generator loss's gradient at the saved weights
-- goes to OUT/grad0.safetensors, for the twin to compare with its own.
-- DATA is export_images.lua's file (its first 64 training images are the
-- real batch). VARIANT: clip (default: clamp D to [-0.01, 0.01], RMSprop
-- 5e-5, BatchNorm in D) or gp (losses.gradient_penalty, lambda 10, its
-- interpolation weights saved; Adam 1e-4 (0.5, 0.9); no BatchNorm in D).
local data_path, out, variant = arg[1], arg[2], arg[3] or "clip"
assert(data_path and out and (variant == "clip" or variant == "gp"), "usage: wgan_round_check.lua DATA OUT [clip|gp]")
local clip = variant == "clip"
tensor.manual_seed(0)
local real = assert(ckpt.read(data_path)).tensors.train:narrow(1, 1, 64):contiguous()
local NC = real:size(2)
local G = models.dcgan_generator { zdim = 100, channels = NC, size = 32 }:apply(models.dcgan_init)
local D = models.dcgan_discriminator { channels = NC, size = 32, batchnorm = clip, sigmoid = false }:apply(models.dcgan_init)
local z, z2 = tensor.randn(64, 100, 1, 1), tensor.randn(64, 100, 1, 1)
-- the interpolation weights losses.gradient_penalty will draw at critic step i
-- (its first draw after tensor.manual_seed(100 + i)), saved for the twin
local saved = { G = G, D = D, z = z, z2 = z2, real = real }
for i = 1, 5 do tensor.manual_seed(100 + i); saved["eps" .. i] = tensor.rand(64, 1, 1, 1) end
ckpt.save(out .. "/round0.safetensors", saved)
-- first, the generator loss's gradient at these weights, one backward from
-- identical inputs (its forward moves the BatchNorm buffers; the twin does the same)
local first = {}
do
  local gl = -D(G(z2)):mean()
  gl:backward()
  for i, p in ipairs(G:parameters()) do first["gradG" .. i] = p.grad; p.grad = nil end
  for _, p in ipairs(D:parameters()) do p.grad = nil end
end
ckpt.save(out .. "/grad0.safetensors", first)
local optD, optG
if clip then
  optD, optG = optim.RMSprop(D:parameters(), { lr = 5e-5 }), optim.RMSprop(G:parameters(), { lr = 5e-5 })
else
  optD = optim.Adam(D:parameters(), { lr = 1e-4, betas = { 0.5, 0.9 } })
  optG = optim.Adam(G:parameters(), { lr = 1e-4, betas = { 0.5, 0.9 } })
end
for i = 1, 5 do
  local fake = autograd.no_grad(function() return G(z) end)
  if clip then autograd.no_grad(function() for _, p in ipairs(D:parameters()) do p:clamp_(-0.01, 0.01) end end) end
  optD:zero_grad()
  local loss = D(fake):mean() - D(real):mean()
  if not clip then
    tensor.manual_seed(100 + i)
    loss = loss + losses.gradient_penalty(D, real, fake, { lambda = 10 })
  end
  loss:backward()
  optD:step()
  print(string.format("critic loss %.8f", loss:item()))
end
optG:zero_grad()
local g_loss = -D(G(z2)):mean()
g_loss:backward()
optG:step()
print(string.format("g loss %.8f", g_loss:item()))
-- the generator step's gradients (D's from its last critic step are
-- overwritten by the G step's backward: D's grads here are that pass's)
local after = { G = G, D = D, fake = G:infer(z) }
for i, p in ipairs(G:parameters()) do after["gradG" .. i] = p.grad end
ckpt.save(out .. "/round1.safetensors", after)
