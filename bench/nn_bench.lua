-- bench/nn_bench.lua — layer and optimizer speed (run by bench/run.sh):
--   linear    forward+backward of Linear on (128x100)(100x128), against the
--             three matrix products it needs, timed as plain matmuls
--   conv      Conv2d and ConvTranspose2d forward+backward at DCGAN-on-MNIST
--             shapes (batch 64; 1 -> 64 -> 128 channels, 4x4, stride 2)
--   adam      one Adam step over 1M parameters
--   mbd       the minibatch-discrimination pair kernel, near and far pairs
-- Prints "name  microseconds-per-iteration" lines for run.sh to compare.
local clock = (ganlua.sys and ganlua.sys.time) or os.clock
local function bench(name, iters, fn)
  for _ = 1, math.max(3, iters // 10) do fn() end -- warm-up
  collectgarbage()
  local t0 = clock()
  for _ = 1, iters do fn() end
  local us = (clock() - t0) / iters * 1e6
  print(string.format("%-28s %10.1f us", name, us))
  return us
end

tensor.manual_seed(0)
local lin = nn.Linear(100, 128)
local x = tensor.randn(128, 100):requires_grad()
local gy = tensor.randn(128, 128)
bench("linear_fwd_bwd", 3000, function()
  local y = lin(x)
  y:backward(gy)
  lin.weight.grad = nil; lin.bias.grad = nil; x.grad = nil
end)
-- the three products the layer needs: x W^T, g W, g^T x (same shapes)
local W = lin.weight:detach()
local xd = x:detach()
local gt = gy:t()
bench("linear_three_sgemm", 3000, function()
  local _ = xd:matmul(W:t())
  local _ = gy:matmul(W)
  local _ = gt:matmul(xd)
end)

local c1 = nn.Conv2d(1, 64, 4, { stride = 2, padding = 1 })
local c2 = nn.Conv2d(64, 128, 4, { stride = 2, padding = 1 })
local img = tensor.randn(64, 1, 28, 28)
bench("conv2d_fwd_bwd", 100, function()
  local y = c2(c1(img):leaky_relu(0.2))
  y:sum():backward()
  for _, p in ipairs(c1:parameters()) do p.grad = nil end
  for _, p in ipairs(c2:parameters()) do p.grad = nil end
end)
-- The floor under conv2d_fwd_bwd: the five matrix products it needs at
-- these shapes (c1 forward and weight gradient; c2 forward, input gradient
-- and weight gradient), as plain matmuls on column matrices, nothing else.
local function mm_shapes(list)
  local ops = {}
  for _, s in ipairs(list) do ops[#ops + 1] = { tensor.randn(s[1], s[2]), tensor.randn(s[2], s[3]) } end
  return function() for _, o in ipairs(ops) do local _ = o[1]:matmul(o[2]) end end
end
bench("conv2d_sgemm_only", 100, mm_shapes {
  { 64, 16, 12544 }, { 64, 12544, 16 },                          -- c1: W cols, dY cols^T
  { 128, 1024, 3136 }, { 1024, 128, 3136 }, { 128, 3136, 1024 }, -- c2: W cols, W^T dY, dY cols^T
})
local t1 = nn.ConvTranspose2d(128, 64, 4, { stride = 2, padding = 1 })
local t2 = nn.ConvTranspose2d(64, 1, 4, { stride = 2, padding = 1 })
local code = tensor.randn(64, 128, 7, 7):requires_grad()
bench("conv_transpose2d_fwd_bwd", 100, function()
  local y = t2(t1(code):relu())
  y:sum():backward()
  for _, p in ipairs(t1:parameters()) do p.grad = nil end
  for _, p in ipairs(t2:parameters()) do p.grad = nil end
  code.grad = nil
end)

-- The floor under one iteration of scripts/toy_gan.lua --variant vanilla
-- (batch 128): the products of G's forward and backward alone (D's are
-- 2- and 1-wide and left out), as plain matmuls.
bench("toy_vanilla_sgemm_only", 3000, mm_shapes {
  { 128, 100, 128 }, { 128, 128, 128 }, { 128, 128, 2 },   -- forward
  { 2, 128, 128 }, { 128, 2, 128 },                        -- layer 3: dW, dX
  { 128, 128, 128 }, { 128, 128, 128 }, { 128, 128, 100 }, -- layer 2: dW, dX; layer 1: dW
})
local p = tensor.randn(1000, 1000):requires_grad()
p.grad = tensor.randn(1000, 1000)
local adam = optim.Adam({ p }, { lr = 1e-3 })
bench("adam_step_1M", 300, function() adam:step() end)

-- The minibatch-discrimination pair kernel alone (the toy's shapes: batch
-- 128, 32 kernels of 8), on near pairs (distances ~1, the trained regime)
-- and on far ones (every exp(-d) underflows, as under the N(0, 1) port).
-- Equal times say no subnormal reaches the arithmetic: CPUs that take a
-- microcode assist per subnormal operation (Intel's) would show far pairs
-- several times slower.
local core = require("ganlua.core")
for _, case in ipairs { { "mbd_kernel_fwd_bwd_near", 0.3 }, { "mbd_kernel_fwd_bwd_far", 300 } } do
  local M = (tensor.randn(128, 32, 8) * case[2]):requires_grad()
  local g = tensor.randn(128, 32)
  bench(case[1], 300, function()
    local o = core.nn.minibatch_disc(M, false)
    o:backward(g)
    M.grad = nil
  end)
end
-- and the products minibatch discrimination adds to a toy iteration: M = h W
-- (128 x 128 times 128 x 256) in D's three forwards, with dM W^T and h^T dM
-- in their three backwards (the g step's included, as PyTorch computes it)
bench("toy_minibatch_extra_sgemm", 1000, mm_shapes {
  { 128, 128, 256 }, { 128, 128, 256 }, { 128, 128, 256 },
  { 128, 256, 128 }, { 128, 256, 128 }, { 128, 256, 128 },
  { 128, 128, 256 }, { 128, 128, 256 }, { 128, 128, 256 },
})
