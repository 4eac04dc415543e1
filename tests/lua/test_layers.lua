-- The layers, functions, containers, loss modules and utilities a ported
-- PyTorch script reaches for: values against PyTorch's own
-- (tests/fixtures/layer_ref.lua, made by tests/fixtures/make_layer_ref.py
-- with Debian's python3-torch), gradients of both orders against finite
-- differences, and bad arguments named.
local ref = dofile(check.dir .. "/fixtures/layer_ref.lua")
local F = nn.functional

-- x[i] = 3 sin(0.7 i), i = 1.. in row-major order: the fixture's inputs
local function inp(...)
  local s = { ... }
  local n = 1
  for _, d in ipairs(s) do n = n * d end
  local v = {}
  for i = 1, n do v[i] = 3 * math.sin(0.7 * i) end
  return tensor.from(v):reshape(s)
end
local function against(name, y, tol)
  local r = ref[name]
  check.shape(y, r.shape, name)
  check.allclose(y, r.values, tol or 2e-5, name)
end

local x = inp(1, 2, 5, 6)
local values = {
  maxpool2 = function() return nn.MaxPool2d(2)(x) end,
  maxpool3s2p1 = function() return nn.MaxPool2d(3, 2, 1)(x) end,
  maxpool2d2 = function() return nn.MaxPool2d(2, 1, 0, 2)(x) end,
  avgpool3s2p1 = function() return nn.AvgPool2d(3, 2, 1)(x) end,
  avgpool3s2p1_nopad = function() return nn.AvgPool2d(3, 2, 1, { count_include_pad = false })(x) end,
  adaptive32 = function() return nn.AdaptiveAvgPool2d { 3, 2 }(x) end,
  adaptive4 = function() return nn.AdaptiveAvgPool2d(4)(x) end,
  nearest73 = function() return F.interpolate(x, { size = { 7, 3 } }) end,
  nearest_s2 = function() return nn.Upsample { scale_factor = 2 }(x) end,
  bilinear_s2 = function() return nn.Upsample(nil, 2, "bilinear", false)(x) end,
  bilinear_37_ac = function() return F.interpolate(x, { size = { 3, 7 }, mode = "bilinear", align_corners = true }) end,
  ["bilinear_1.5"] = function() return F.interpolate(x, { scale_factor = 1.5, mode = "bilinear", align_corners = false }) end,
  pad_reflect = function() return F.pad(x, { 1, 2, 2, 1 }, "reflect") end,
  pad_replicate = function() return F.pad(x, { 2, 0, 1, 3 }, { mode = "replicate" }) end,
  pad_circular = function() return F.pad(x, { 1, 2, 0, 1 }, "circular") end,
  pad_const = function() return F.pad(x, { 1, -2, 2, 0 }, "constant", 0.5) end,
  instnorm = function() return nn.InstanceNorm2d(2)(x) end,
  groupnorm = function()
    local gn = nn.GroupNorm(2, 4)
    autograd.no_grad(function() gn.weight:copy_(tensor.from { 1.0, 0.5, -1.0, 2.0 }); gn.bias:copy_(tensor.from { 0.0, 0.1, 0.2, -0.3 }) end)
    return gn(inp(2, 4, 3, 3))
  end,
  elu = function() return nn.ELU(0.7)(inp(12)) end,
  gelu = function() return nn.GELU()(inp(12)) end,
  gelu_tanh = function() return nn.GELU("tanh")(inp(12)) end,
  silu = function() return nn.SiLU()(inp(12)) end,
}
local logits = inp(4, 3)
local t = tensor.from { { 1, 0, 1 }, { 0, 0, 1 }, { 1, 1, 0 }, { 0, 1, 0 } }
local w = tensor.from { 1.0, 2.0, 0.5 }
local y = { 1, 3, 2, 3 }
values.bcelogits_pw = function() return nn.BCEWithLogitsLoss { pos_weight = tensor.from { 2.0, 0.5, 1.0 } }(logits, t):reshape(1) end
values.bce_w = function() return nn.BCELoss(w)(logits:sigmoid(), t):reshape(1) end
values.ce_w = function() return nn.CrossEntropyLoss(w)(logits, y):reshape(1) end
values.ce_w_ls = function() return nn.CrossEntropyLoss(w, { label_smoothing = 0.2 })(logits, y):reshape(1) end
values.ce_w_sum = function() return nn.CrossEntropyLoss { weight = w, reduction = "sum" }(logits, y):reshape(1) end

local names = {}
for k in pairs(ref) do names[#names + 1] = k end
table.sort(names)
test("every layer-reference case has a ganlua counterpart", function()
  for _, k in ipairs(names) do check.truthy(values[k], "no ganlua case for " .. k) end
end)
for _, k in ipairs(names) do
  if values[k] then test("same values as PyTorch: " .. k, function() against(k, values[k]()) end) end
end

-- gradients of both orders; inputs keep ties out of the max windows
local function rn(...) return tensor.randn(...) end
local grads = {
  { "MaxPool2d", function(a) return nn.MaxPool2d(2, 1, 1)(a) end, function() return rn(1, 2, 3, 4) end },
  { "AvgPool2d", function(a) return nn.AvgPool2d(3, 2, 1, false, false)(a) end, function() return rn(1, 2, 4, 5) end },
  { "AdaptiveAvgPool2d", function(a) return nn.AdaptiveAvgPool2d { 2, 3 }(a) end, function() return rn(2, 1, 5, 4) end },
  { "interpolate bilinear", function(a) return F.interpolate(a, { size = { 5, 3 }, mode = "bilinear" }) end, function() return rn(1, 2, 3, 4) end },
  { "Upsample nearest", function(a) return nn.Upsample(nil, 2)(a) ^ 2 end, function() return rn(1, 1, 2, 3) end },
  { "pad reflect", function(a) return F.pad(a, { 1, 1, 2, 0 }, "reflect") ^ 2 end, function() return rn(1, 1, 3, 3) end },
  { "pad constant", function(a) return F.pad(a, { 1, -1 }, "constant", 2) ^ 2 end, function() return rn(2, 3) end },
  { "InstanceNorm2d", function(a) return nn.InstanceNorm2d(2)(a) ^ 2 end, function() return rn(2, 2, 2, 3) end },
  { "GroupNorm", function(a) return nn.GroupNorm(2, 4)(a) ^ 2 end, function() return rn(2, 4, 3) end },
  { "ELU", function(a) return nn.ELU(0.5)(a) end, function() local v = rn(3, 4); return v + v:sign() * 0.1 end },
  { "GELU", function(a) return nn.GELU()(a) end, function() return rn(3, 4) end },
  { "GELU tanh", function(a) return nn.GELU { approximate = "tanh" }(a) end, function() return rn(3, 4) end },
  { "SiLU", function(a) return nn.SiLU()(a) end, function() return rn(3, 4) end },
  { "erf", function(a) return a:erf() end, function() return rn(3, 4) end },
  { "BCEWithLogitsLoss pos_weight", function(a) return nn.BCEWithLogitsLoss { pos_weight = tensor.from { 2, 0.5, 1 } }(a, t) end, function() return rn(4, 3) end },
  { "CrossEntropyLoss weight", function(a) return nn.CrossEntropyLoss(w, { label_smoothing = 0.1 })(a, y) end, function() return rn(4, 3) end },
}
for _, g in ipairs(grads) do
  test("gradcheck " .. g[1], function() check.gradcheck(g[2], g[3]()) end)
  test("gradgradcheck " .. g[1], function() check.gradgradcheck(g[2], g[3]()) end)
end
test("gradcheck GroupNorm and InstanceNorm2d in their affine parameters", function()
  local gn = nn.GroupNorm(2, 4)
  check.gradcheck(function(a, wt, b) return gn(a) end, { rn(2, 4, 3):requires_grad(), gn.weight, gn.bias })
  local inorm = nn.InstanceNorm2d(3, { affine = true })
  check.gradgradcheck(function(a, wt, b) return inorm(a) ^ 2 end, { rn(2, 3, 2, 2):requires_grad(), inorm.weight, inorm.bias })
end)

test("Dropout2d zeroes whole channels and scales the rest; eval passes through", function()
  tensor.manual_seed(3)
  local d = nn.Dropout2d(0.5)
  local out = d(tensor.ones(8, 16, 3, 3))
  local zeros, kept = 0, 0
  for n = 1, 8 do
    for c = 1, 16 do
      local s = out[n][c]:sum():item()
      if s == 0 then zeros = zeros + 1 else check.near(s, 18, 1e-6); kept = kept + 1 end
    end
  end
  check.truthy(zeros > 30 and kept > 30, "zeroed " .. zeros .. ", kept " .. kept)
  d:eval()
  check.allclose(d(tensor.ones(2, 3, 2, 2)), 1)
end)

test("layer options: PyTorch's positional order, unknown keys and what is not implemented named", function()
  check.eq(tostring(nn.MaxPool2d(3, 2, 1)), "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)")
  check.eq(nn.MaxPool2d(2).stride, 2)
  check.raises(function() nn.MaxPool2d(2, { strid = 1 }) end, "unknown option 'strid' (did you mean 'stride'?)")
  check.raises(function() nn.MaxPool2d(2, { ceil_mode = true }) end, "ceil_mode = true is not implemented")
  check.raises(function() nn.MaxPool2d(2, 2, 2) end, "padding (2, 2) must be at most half the kernel size")
  check.raises(function() nn.MaxPool2d(3)(tensor.ones(1, 1, 2, 2)) end, "does not fit a size of 2")
  check.raises(function() nn.AvgPool2d(2)(tensor.ones(4, 4)) end, "AvgPool2d: expected an N x C x H x W tensor")
  check.raises(function() nn.GroupNorm(3, 4) end, "num_channels 4 must be divisible by num_groups 3")
  check.raises(function() nn.GroupNorm(2, 4)(tensor.ones(2, 3, 5)) end, "has 3 channels, the layer expects 4")
  check.raises(function() nn.InstanceNorm2d(2, { track_running_stats = true }) end, "not implemented")
  check.raises(function() F.interpolate(x, { size = 3, scale_factor = 2 }) end, "exactly one of size and scale_factor")
  check.raises(function() F.interpolate(x, { size = 3, mode = "bicubic" }) end, "expected one of \"nearest\", \"bilinear\", got \"bicubic\"")
  check.raises(function() nn.Upsample() end, "exactly one of size and scale_factor")
  check.raises(function() F.pad(x, { 1 }) end, "even-length list")
  check.raises(function() F.pad(x, { 6, 0 }, "reflect") end, "reflect padding 6, 0 must be below the size 6")
  check.raises(function() nn.GELU("exact") end, "expected one of \"none\", \"tanh\"")
  check.raises(function() nn.CrossEntropyLoss { ignore_index = 0 } end, "ignore_index is not implemented")
  check.raises(function() nn.BCELoss { reduce = "mean" } end, "unknown option 'reduce'")
end)

test("ModuleList and ModuleDict: PyTorch's state-dict names, 1-based access, no forward", function()
  local l = nn.ModuleList { nn.Linear(2, 3), nn.ReLU() }
  l:append(nn.Linear(3, 1))
  check.eq(#l, 3)
  check.eq(l[3].out_features, 1)
  check.eq(l[-1], l[3])
  local n = 0
  for i, m in ipairs(l) do n = n + 1; check.eq(m, l[i]) end
  check.eq(n, 3)
  l:insert(1, nn.Tanh())
  check.eq(l[1].__name, "Tanh")
  local keys = l:state_dict():keys()
  check.eq(table.concat(keys, ","), "1.weight,1.bias,3.weight,3.bias")
  check.raises(function() l(tensor.ones(1, 2)) end, "ModuleList: a container has no forward")
  check.raises(function() nn.ModuleList { nn.ReLU(), 3 } end, "entry 2 is not a module")
  local d = nn.ModuleDict { { "enc", nn.Linear(2, 4) }, { "dec", nn.Linear(4, 2) } }
  check.eq(table.concat(d:keys(), ","), "enc,dec")
  check.eq(d.dec.in_features, 4)
  check.eq(#d, 2)
  check.eq(table.concat(d:state_dict():keys(), ","), "enc.weight,enc.bias,dec.weight,dec.bias")
  local e = nn.ModuleDict { b = nn.ReLU(), a = nn.Tanh() }
  check.eq(table.concat(e:keys(), ","), "a,b")
  check.raises(function() nn.ModuleDict { keys = nn.ReLU() } end, "attribute 'keys' already exists")
  check.raises(function() nn.ModuleDict { a = 1 } end, "'a' is not a module")
end)

test("deepcopy: an independent module with the same values", function()
  local G = nn.Sequential { nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU() }
  local H = G:deepcopy()
  check.eq(tostring(H), tostring(G))
  check.allclose(H[1].weight, G[1].weight)
  check.truthy(H[1].weight:is_requires_grad() and H[1].weight ~= G[1].weight)
  autograd.no_grad(function() H[1].weight:fill_(0) end)
  check.truthy(G[1].weight:abs():sum():item() > 0, "the copy shares storage with the original")
  check.eq(#H:parameters(), #G:parameters())
  check.truthy(H[2].running_mean ~= G[2].running_mean)
  local a = H(tensor.randn(4, 2))
  check.shape(a, { 4, 3 })
end)

test("clip_grad_norm_ and clip_grad_value_: PyTorch's closed forms", function()
  local p, q = tensor.zeros(2):requires_grad(), tensor.zeros(1):requires_grad()
  p.grad, q.grad = tensor.from { 3, 0 }, tensor.from { 4 }
  local total = nn.utils.clip_grad_norm_({ p, q }, 1)
  check.near(total, 5)
  check.allclose(p.grad, { 3 / (5 + 1e-6), 0 }, 1e-6)
  check.allclose(q.grad, { 4 / (5 + 1e-6) }, 1e-6)
  p.grad, q.grad = tensor.from { 3, -7 }, tensor.from { 4 }
  check.near(nn.utils.clip_grad_norm_({ p, q }, 100, math.huge), 7)
  check.allclose(p.grad, { 3, -7 })
  local m = nn.Linear(2, 1)
  m.weight.grad, m.bias.grad = tensor.from { { 0.5, -2 } }, tensor.from { 3 }
  nn.utils.clip_grad_value_(m, 1)
  check.allclose(m.weight.grad, { { 0.5, -1 } })
  check.allclose(m.bias.grad, { 1 })
  p.grad = tensor.from { 0 / 0, 1 }
  check.raises(function() nn.utils.clip_grad_norm_(p, 1, 2, { error_if_nonfinite = true }) end, "total norm of the gradients is")
  check.raises(function() nn.utils.clip_grad_norm_({ p, 3 }, 1) end, "parameter 2 is not a Tensor")
end)

test("x:size() prints as a shape and compares by value", function()
  local s = tensor.zeros(2, 3):size()
  check.eq(tostring(s), "Size{2, 3}")
  check.truthy(s == { 2, 3 } and s ~= { 3, 2 } and s == tensor.ones(2, 3):size())
  check.eq(table.concat(s, "x"), "2x3")
  check.eq(tostring(tensor.zeros(4):sum():size()), "Size{}")
end)

test("activations take PyTorch's inplace flag and refuse anything else; x.data is the same storage without a graph", function()
  check.eq(tostring(nn.ReLU(true)), "ReLU()")
  check.eq(tostring(nn.LeakyReLU(0.2, true)), "LeakyReLU(negative_slope=0.2)")
  check.raises(function() nn.ReLU(0.2) end, "ReLU: argument 1 (inplace) must be a boolean")
  check.raises(function() nn.Tanh(1) end, "Tanh: takes no arguments")
  check.raises(function() nn.LeakyReLU(0.2, true, 3) end, "takes at most 2 arguments")
  local w = tensor.zeros(3):requires_grad()
  check.truthy(not w.data:is_requires_grad())
  nn.init.constant_(w.data, 2)
  check.allclose(w, 2)
end)
