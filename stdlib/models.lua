-- ganlua.models: the published networks several scripts and the bench
-- share, built from nn layers (torchvision.models' role). Each builder
-- returns a plain nn.Sequential.
--
--   local G = models.dcgan_generator { zdim = 100, channels = 3, size = 64 }
--   local D = models.dcgan_discriminator { channels = 3, size = 64 }
--   G:apply(models.dcgan_init); D:apply(models.dcgan_init)
local nn = require "ganlua.nn"
local argcheck = require "ganlua.argcheck"

local models = {}

-- DCGAN (Radford, Metz & Chintala 2016) as PyTorch's DCGAN tutorial and
-- examples/dcgan build it. G: z (zdim x 1 x 1) -> ConvTranspose2d 4x4 to a
-- 4 x 4 map of width * 2^(L-1) channels, then L stride-2 ConvTranspose2d
-- (4x4, padding 1) halving the channels, BatchNorm + ReLU after each but
-- the last, Tanh out; D mirrors it: L stride-2 Conv2d (4x4, padding 1)
-- doubling from width, LeakyReLU 0.2 after each, BatchNorm on all but the
-- first, then a 4x4 Conv2d to one number, Flatten, Sigmoid. No biases.
-- L = log2(size) - 2 (3 at 32, 4 at 64). batchnorm = false and sigmoid =
-- false give the critic WGAN-GP uses (no normalisation, a real output).
local GEN_OPTS = argcheck.options("models.dcgan_generator", {
  zdim = { 100, kind = "integer", min = 1 }, width = { 64, kind = "integer", min = 1 },
  channels = { 3, kind = "integer", min = 1 }, size = { 64, choices = { 16, 32, 64, 128 } },
})
local DIS_OPTS = argcheck.options("models.dcgan_discriminator", {
  width = { 64, kind = "integer", min = 1 }, channels = { 3, kind = "integer", min = 1 },
  size = { 64, choices = { 16, 32, 64, 128 } }, batchnorm = { true }, sigmoid = { true },
})
local function stages(size) return math.floor(math.log(size, 2) + 0.5) - 2 end

function models.dcgan_generator(o)
  o = GEN_OPTS:check(o, 1)
  local L = stages(o.size)
  local ch = o.width << (L - 1)
  local m = { nn.ConvTranspose2d(o.zdim, ch, 4, { bias = false }), nn.BatchNorm2d(ch), nn.ReLU() }
  for _ = 2, L do
    m[#m + 1] = nn.ConvTranspose2d(ch, ch // 2, 4, { stride = 2, padding = 1, bias = false })
    m[#m + 1] = nn.BatchNorm2d(ch // 2)
    m[#m + 1] = nn.ReLU()
    ch = ch // 2
  end
  m[#m + 1] = nn.ConvTranspose2d(ch, o.channels, 4, { stride = 2, padding = 1, bias = false })
  m[#m + 1] = nn.Tanh()
  return nn.Sequential(m)
end

function models.dcgan_discriminator(o)
  o = DIS_OPTS:check(o, 1)
  local L = stages(o.size)
  local m = { nn.Conv2d(o.channels, o.width, 4, { stride = 2, padding = 1, bias = false }), nn.LeakyReLU(0.2) }
  local ch = o.width
  for _ = 2, L do
    m[#m + 1] = nn.Conv2d(ch, ch * 2, 4, { stride = 2, padding = 1, bias = false })
    if o.batchnorm then m[#m + 1] = nn.BatchNorm2d(ch * 2) end
    m[#m + 1] = nn.LeakyReLU(0.2)
    ch = ch * 2
  end
  m[#m + 1] = nn.Conv2d(ch, 1, 4, { bias = false })
  m[#m + 1] = nn.Flatten()
  if o.sigmoid then m[#m + 1] = nn.Sigmoid() end
  return nn.Sequential(m)
end

-- the tutorial's weights_init, for Module:apply: convolution weights from
-- N(0, 0.02), BatchNorm's scale from N(1, 0.02) and its shift 0
function models.dcgan_init(m)
  argcheck.module("models.dcgan_init", 1, m, "module")
  if m.__name == "Conv2d" or m.__name == "ConvTranspose2d" then
    nn.init.normal_(m.weight, 0, 0.02)
  elseif m.__name:find("^BatchNorm") and m.weight then
    nn.init.normal_(m.weight, 1, 0.02)
    nn.init.zeros_(m.bias)
  end
end

return models
