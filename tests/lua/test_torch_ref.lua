-- Agreement with PyTorch: reference numbers made by
-- tests/fixtures/make_torch_ref.py (PyTorch, run by hand) for layers in
-- train and eval mode, every loss, and three steps of each optimizer.
local ref = dofile(check.dir .. "/fixtures/torch_ref.lua")

local function ten(f)
  if #f.shape == 0 then return tensor.from(f.data[1]) end
  return tensor.from(f.data):reshape(f.shape)
end

local layers = {
  linear = function() return nn.Linear(4, 3) end,
  conv2d = function() return nn.Conv2d(3, 4, 3, { stride = 2, padding = 1 }) end,
  conv2d_dil = function() return nn.Conv2d(2, 3, { 3, 2 }, { stride = { 1, 2 }, padding = { 2, 1 }, dilation = 2 }) end,
  conv_transpose2d = function() return nn.ConvTranspose2d(4, 2, 4, { stride = 2, padding = 1 }) end,
  conv_transpose2d_op = function() return nn.ConvTranspose2d(3, 2, 3, { stride = 2, padding = 1, output_padding = 1 }) end,
  leaky_relu = function() return nn.LeakyReLU(0.2) end,
  bn1d_train = function() return nn.BatchNorm1d(3, { eps = 0.8 }) end,
  bn1d_train_default = function() return nn.BatchNorm1d(3) end,
  bn2d_train = function() return nn.BatchNorm2d(3) end,
  bn1d_eval = function() return nn.BatchNorm1d(3, { eps = 0.8 }):eval() end,
}

for name, make in pairs(layers) do
  test("matches PyTorch: " .. name, function()
    local c = ref[name]
    local m = make()
    local sd = {}
    for k, v in pairs(c.params) do sd[k] = ten(v) end
    for k, v in pairs(c.buffers or {}) do sd[k] = ten(v) end
    m:load_state_dict(sd, false)
    local x = ten(c.x):requires_grad()
    local out = m(x)
    check.allclose(out, ten(c.out), 1e-4, "output")
    local ps, names = { x }, { "x" }
    for k in pairs(c.params) do ps[#ps + 1] = rawget(m, k); names[#names + 1] = k end
    local gs = autograd.grad((out * ten(c.r)):sum(), ps)
    check.allclose(gs[1], ten(c.grad_x), 1e-4, "grad x")
    for i = 2, #ps do check.allclose(gs[i], ten(c.grads[names[i]]), 1e-4, "grad " .. names[i]) end
    for k, v in pairs(c.buffers_after or {}) do check.allclose(rawget(m, k), ten(v), 1e-5, "buffer " .. k) end
  end)
end

local d = ref.loss_data
local x, p, t, logits, labels = ten(d.x), ten(d.p), ten(d.t), ten(d.logits), ten(d.labels)
local loss_fns = {
  bce = function(a) return losses.bce(a, t) end,
  bce_sum = function(a) return losses.bce(a, t, { reduction = "sum" }) end,
  bce_with_logits = function(a) return losses.bce_with_logits(a, t) end,
  bce_with_logits_none = function(a) return losses.bce_with_logits(a, t, { reduction = "none" }) end,
  mse = function(a) return losses.mse(a, t) end,
  l1 = function(a) return losses.l1(a, t) end,
  cross_entropy = function(a) return losses.cross_entropy(a, labels) end,
  cross_entropy_ls = function(a) return losses.cross_entropy(a, labels, { label_smoothing = 0.1 }) end,
  nll = function(a) return losses.nll(a:log_softmax(2), labels) end,
  gaussian_nll = function(a) return losses.gaussian_nll(a, t, p) end,
  kl_div = function(a) return losses.kl_div(a:log_softmax(2), (logits * 0.5):softmax(2), { reduction = "batchmean" }) end,
}
for name, fn in pairs(loss_fns) do
  test("matches PyTorch: loss " .. name, function()
    local c = ref.losses[name]
    local inp = ten(c.input):requires_grad()
    local v = fn(inp)
    check.allclose(v, ten(c.value), 1e-5, "value")
    local g = autograd.grad(v:sum(), inp)
    check.allclose(g, ten(c.grad), 1e-5, "grad")
  end)
end

local o = ref.optim
local makers = {
  sgd = optim.SGD, sgd_momentum = optim.SGD, sgd_nesterov = optim.SGD,
  adam = optim.Adam, adam_wd_amsgrad = optim.Adam, rmsprop = optim.RMSprop, rmsprop_centered_momentum = optim.RMSprop,
}
for name, make in pairs(makers) do
  test("matches PyTorch: three " .. name .. " steps", function()
    local c = o.cases[name]
    local w = ten(o.w0):requires_grad()
    local a, cc = ten(o.a), ten(o.c)
    local opt = make({ w }, c.options)
    for s = 1, 3 do
      opt:zero_grad()
      local f = (cc * (w - a) ^ 2):sum() + (w ^ 3):sum() * 0.1
      f:backward()
      opt:step()
      check.allclose(w, ten(c.steps[s]), 1e-5, "step " .. s)
    end
  end)
end
