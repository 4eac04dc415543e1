-- The convolution kernels (oneDNN, runtime/conv_dnnl.c) against
--  * the values of the implementation they replaced (im2col + sgemm, kept
--    in tests/fixtures/conv_ref.lua by tests/fixtures/make_conv_ref.lua):
--    output, first-order gradients, and a second-order gradient through
--    the convolutions, for every configuration the layers accept;
--  * finite differences, first and second order, on the same cases;
--  * both layouts the kernels use (NCHW for a side with < 8 channels,
--    blocked for wider ones; the cases cover 1 to 17 channels).
local ref = dofile(check.dir .. "/fixtures/conv_ref.lua")
local cases = {
  -- as in make_conv_ref.lua: transposed, C_in, C_out, kernel, stride, padding, dilation, output_padding, bias
  s1p0 = { false, 3, 4, 3, 1, 0, 1, 0, true },
  s2p1 = { false, 3, 5, 4, 2, 1, 1, 0, true },
  s3p2_odd = { false, 2, 3, 3, 3, 2, 1, 0, false },
  dil2 = { false, 2, 3, 3, 1, 2, 2, 0, true },
  rect_kernel = { false, 3, 2, { 3, 2 }, { 1, 2 }, { 2, 1 }, { 2, 1 }, 0, true },
  batch1_1x1 = { false, 5, 6, 1, 1, 0, 1, 0, true },
  ["1x1_stride2"] = { false, 4, 3, 1, 2, 0, 1, 0, false },
  wide_16to8 = { false, 16, 8, 3, 2, 1, 1, 0, true },
  wide_17to9 = { false, 17, 9, 2, 2, 1, 1, 0, false },
  nonsquare_img = { false, 8, 8, 3, 1, 1, 1, 0, true },
  t_s2p1 = { true, 4, 3, 4, 2, 1, 1, 0, true },
  t_s2p1_op1 = { true, 3, 2, 3, 2, 1, 1, 1, true },
  t_s1p0 = { true, 3, 4, 3, 1, 0, 1, 0, false },
  t_dil2 = { true, 2, 3, 3, 1, 1, 2, 0, true },
  t_s3_op2 = { true, 2, 2, 3, 3, 0, 1, 2, false },
  t_wide_16to8 = { true, 16, 8, 3, 2, 1, 1, 1, true },
  t_wide_9to17 = { true, 9, 17, 2, 2, 0, 1, 0, false },
  t_1x1 = { true, 5, 4, 1, 1, 0, 1, 0, true },
}

local function ten(f) return tensor.from(f.data):reshape(f.shape) end

local function layer(name)
  local c, r = cases[name], ref[name]
  local opts = { stride = c[5], padding = c[6], dilation = c[7], bias = c[9] }
  if c[1] then opts.output_padding = c[8] end
  local m = (c[1] and nn.ConvTranspose2d or nn.Conv2d)(c[2], c[3], c[4], opts)
  local sd = { weight = ten(r.weight) }
  if c[9] then sd.bias = ten(r.bias) end
  m:load_state_dict(sd)
  return m, r
end

local names = {}
for name in pairs(cases) do names[#names + 1] = name end
table.sort(names)
check.eq(#names, (function() local n = 0 for _ in pairs(ref) do n = n + 1 end return n end)(), "cases in the fixture")

for _, name in ipairs(names) do
  test("conv " .. name .. ": output and gradients match the previous implementation", function()
    local m, r = layer(name)
    local x = ten(r.x):requires_grad()
    local y = m(x)
    check.allclose(y, ten(r.out), 1e-4, "output")
    local ps = { x, m.weight }
    if cases[name][9] then ps[3] = m.bias end
    local gs = autograd.grad((y * ten(r.r)):sum(), ps, { create_graph = true })
    check.allclose(gs[1], ten(r.grad_x), 1e-4, "grad x")
    check.allclose(gs[2], ten(r.grad_weight), 1e-4, "grad weight")
    if gs[3] then check.allclose(gs[3], ten(r.grad_bias), 1e-4, "grad bias") end
    local gg = autograd.grad((gs[1] * gs[1]):sum() + (gs[2] * gs[2]):sum(), { x, m.weight })
    check.allclose(gg[1], ten(r.gg_x), 1e-4, "second order, x")
    check.allclose(gg[2], ten(r.gg_weight), 1e-4, "second order, weight")
  end)
  test("conv " .. name .. ": finite differences, first and second order", function()
    local m, r = layer(name)
    local inputs = { ten(r.x):requires_grad() }
    for _, p in ipairs(m:parameters()) do inputs[#inputs + 1] = p end
    local function f(xx) return m(xx) end
    check.gradcheck(f, inputs)
    check.gradgradcheck(f, inputs)
  end)
end

test("conv: a batch of 64 at DCGAN's widths matches the definition at sampled points", function()
  -- the blocked kernels on the shapes the benchmarks run (64 -> 128
  -- channels, 4x4, stride 2), held against sums written out by hand
  tensor.manual_seed(3)
  local m = nn.Conv2d(64, 128, 4, { stride = 2, padding = 1, bias = false })
  local x = tensor.randn(4, 64, 8, 8)
  local y = m(x)
  check.shape(y, { 4, 128, 4, 4 })
  local W = m.weight
  for _, p in ipairs { { 1, 1, 1, 1 }, { 2, 77, 3, 2 }, { 4, 128, 4, 4 }, { 3, 5, 1, 4 } } do
    local n, o, i, j = p[1], p[2], p[3], p[4]
    local s = 0
    for c = 1, 64 do
      for a = 1, 4 do
        for b = 1, 4 do
          local h, w = (i - 1) * 2 - 1 + a, (j - 1) * 2 - 1 + b
          if h >= 1 and h <= 8 and w >= 1 and w <= 8 then s = s + x[n][c][h][w]:item() * W[o][c][a][b]:item() end
        end
      end
    end
    check.near(y[n][o][i][j]:item(), s, 1e-4, "y at " .. table.concat(p, ","))
  end
end)

test("conv: empty batches and channel-free inputs give empty or zero results", function()
  local m = nn.Conv2d(3, 4, 3, { padding = 1 })
  check.shape(m(tensor.zeros(0, 3, 5, 5)), { 0, 4, 5, 5 })
  local t = nn.ConvTranspose2d(3, 2, 4, { stride = 2, padding = 1 })
  local x = tensor.zeros(0, 3, 2, 2):requires_grad()
  local y = t(x)
  check.shape(y, { 0, 2, 4, 4 })
  y:sum():backward()
  check.allclose(t.weight.grad, 0, 0, "weight gradient of an empty batch")
end)

test("conv: the backend names oneDNN and the kernels it dispatched to", function()
  nn.Conv2d(16, 16, 3)(tensor.randn(1, 16, 5, 5))
  local info = sys.backend().conv
  check.truthy(info:match("^oneDNN %d+%.%d+%.%d+, ISA %S+, kernels "), info)
end)

test("conv: a kernel as large as the image (DCGAN's last D layer) is a matrix product", function()
  -- 16 channels blocked against a 1-channel map: a layout mix oneDNN has
  -- no JIT kernel for, so conv_dnnl.c picks another; the values must not care
  tensor.manual_seed(5)
  local m = nn.Conv2d(16, 1, 4, { bias = false })
  local x = tensor.randn(6, 16, 4, 4):requires_grad()
  local y = m(x)
  check.allclose(y:reshape(6, 1), x:detach():reshape(6, -1):matmul(m.weight:reshape(1, -1):t()), 1e-4, "forward")
  local r = tensor.randn(6, 1, 1, 1)
  local gx, gw = table.unpack(autograd.grad((y * r):sum(), { x, m.weight }))
  check.allclose(gx:reshape(6, -1), r:reshape(6, 1):matmul(m.weight:reshape(1, -1)), 1e-4, "data gradient")
  check.allclose(gw:reshape(1, -1), r:reshape(1, 6):matmul(x:detach():reshape(6, -1)), 1e-4, "weight gradient")
  check.gradcheck(function(xx) return m(xx) end, { x:detach():narrow(1, 1, 2):requires_grad(), m.weight })
end)
