-- Gradient checks: every differentiable op against central finite
-- differences, first order (gradcheck) and second order (gradgradcheck,
-- the gradient taken with create_graph = true and checked again). Inputs
-- are kept away from kinks (relu at 0, abs at 0, clamp bounds) where a
-- finite difference straddles two slopes.

local function rn(...) return tensor.randn(...) end
-- values in [lo, hi]
local function ru(lo, hi, ...) return tensor.rand(...) * (hi - lo) + lo end
-- standard normal, pushed at least `gap` away from 0
local function away(gap, ...)
  local x = tensor.randn(...)
  return x + x:sign() * gap
end

local unary = {
  { "neg",        function(x) return -x end,                  function() return rn(3, 4) end },
  { "exp",        function(x) return x:exp() end,             function() return rn(3, 4) end },
  { "log",        function(x) return x:log() end,             function() return ru(0.5, 2, 3, 4) end },
  { "sqrt",       function(x) return x:sqrt() end,            function() return ru(0.5, 2, 3, 4) end },
  { "abs",        function(x) return x:abs() end,             function() return away(0.1, 3, 4) end },
  { "sigmoid",    function(x) return x:sigmoid() end,         function() return rn(3, 4) end },
  { "tanh",       function(x) return x:tanh() end,            function() return rn(3, 4) end },
  { "relu",       function(x) return x:relu() end,            function() return away(0.1, 3, 4) end },
  { "leaky_relu", function(x) return x:leaky_relu(0.2) end,   function() return away(0.1, 3, 4) end },
  { "softplus",   function(x) return x:softplus() end,        function() return rn(3, 4) end },
  { "softplus b", function(x) return x:softplus(2, 1) end,    function() return away(0.1, 3, 4) end },
  { "clamp",      function(x) return x:clamp(-0.5, 0.5) end,  function() return away(0.1, 3, 4) * 0.4 end },
  { "pow 3",      function(x) return x ^ 3 end,               function() return rn(3, 4) end },
  { "pow 2",      function(x) return x ^ 2 end,               function() return rn(3, 4) end },
  { "pow -1.5",   function(x) return x ^ -1.5 end,            function() return ru(0.5, 2, 3, 4) end },
  { "rdiv",       function(x) return 2 / x end,               function() return ru(0.5, 2, 3, 4) end },
  { "rsub",       function(x) return 2 - x end,               function() return rn(3, 4) end },
  { "rpow",       function(x) return 2 ^ x end,               function() return rn(3, 4) end },
  { "affine",     function(x) return x * 3 + 1 end,           function() return rn(3, 4) end },
  { "sum",        function(x) return x:sum() end,             function() return rn(3, 4) end },
  { "sum dim",    function(x) return x:sum(2) end,            function() return rn(3, 4) end },
  { "sum keep",   function(x) return x:sum(1, true) end,      function() return rn(3, 4) end },
  { "mean",       function(x) return x:mean() end,            function() return rn(3, 4) end },
  { "mean dim",   function(x) return x:mean(-1) end,          function() return rn(2, 3, 4) end },
  { "max",        function(x) return x:max() end,             function() return rn(3, 4) end },
  { "max dim",    function(x) return (x:max(2)) end,          function() return rn(3, 4) end },
  { "min dim",    function(x) return (x:min(1, true)) end,    function() return rn(3, 4) end },
  { "var",        function(x) return x:var() end,             function() return rn(3, 4) end },
  { "var dim",    function(x) return x:var(2) end,            function() return rn(3, 4) end },
  { "std dim",    function(x) return x:std(1, true) end,      function() return rn(3, 4) end },
  { "norm",       function(x) return x:norm() end,            function() return rn(3, 4) end },
  { "norm dim",   function(x) return x:norm(2, 2) end,        function() return rn(3, 4) end },
  { "norm p1",    function(x) return x:norm(1, 2) end,        function() return away(0.1, 3, 4) end },
  { "norm p3",    function(x) return x:norm(3, 1, true) end,  function() return away(0.1, 3, 4) end },
  { "logsumexp",  function(x) return x:logsumexp(2) end,      function() return rn(3, 4) end },
  { "softmax",    function(x) return x:softmax(2) end,        function() return rn(3, 4) end },
  { "softmax d1", function(x) return x:softmax(1) end,        function() return rn(3, 4) end },
  { "log_softmax",function(x) return x:log_softmax() end,     function() return rn(3, 4) end },
  { "reshape",    function(x) return x:reshape(2, 6) * x:reshape(2, 6) end, function() return rn(3, 4) end },
  { "view -1",    function(x) return x:view(-1, 3):exp() end, function() return rn(3, 4) end },
  { "flatten",    function(x) return x:flatten() ^ 2 end,     function() return rn(2, 3, 2) end },
  { "squeeze",    function(x) return x:squeeze() ^ 2 end,     function() return rn(3, 1, 4) end },
  { "unsqueeze",  function(x) return x:unsqueeze(2) ^ 2 end,  function() return rn(3, 4) end },
  { "t",          function(x) return x:t():matmul(x) end,     function() return rn(3, 4) end },
  { "transpose",  function(x) return x:transpose(1, 3) ^ 2 end, function() return rn(2, 3, 4) end },
  { "permute",    function(x) return x:permute(3, 1, 2) ^ 2 end, function() return rn(2, 3, 4) end },
  { "narrow d1",  function(x) return x:narrow(1, 2, 2) ^ 2 end, function() return rn(3, 4) end },
  { "narrow d2",  function(x) return x:narrow(2, 2, 2) ^ 2 end, function() return rn(3, 4) end },
  { "select",     function(x) return x:select(2, 3) ^ 2 end,  function() return rn(3, 4) end },
  { "index",      function(x) return x[2] ^ 2 end,            function() return rn(3, 4) end },
  { "index_sel",  function(x) return x:index_select(2, { 4, 1, 1 }) ^ 2 end, function() return rn(3, 4) end },
  { "expand",     function(x) return x:expand(2, 3, 4) ^ 2 end, function() return rn(3, 1) end },
  { "clone",      function(x) return x:clone() ^ 2 end,       function() return rn(3, 4) end },
  { "matmul vec", function(x) return x:matmul(x:select(1, 1)) end, function() return rn(4, 4) end },
  { "bce_logits", function(x) return losses.bce_with_logits(x, 1, { reduction = "none" }) end, function() return rn(3, 4) * 3 end },
  { "bce_logits 0.3", function(x) return losses.bce_with_logits(x, 0.3) end, function() return rn(3, 4) * 3 end },
}

for _, u in ipairs(unary) do
  local name, f, make = u[1], u[2], u[3]
  test("gradcheck " .. name, function() check.gradcheck(f, make()) end)
  test("gradgradcheck " .. name, function() check.gradgradcheck(f, make()) end)
end

local binary = {
  { "add",      function(a, b) return a + b end,           { 3, 4 }, { 3, 4 } },
  { "add bc",   function(a, b) return a + b end,           { 3, 4 }, { 4 } },
  { "sub bc",   function(a, b) return a - b end,           { 3, 1 }, { 1, 4 } },
  { "mul",      function(a, b) return a * b end,           { 3, 4 }, { 3, 4 } },
  { "mul bc",   function(a, b) return a * b end,           { 2, 3, 4 }, { 3, 1 } },
  { "div",      function(a, b) return a / (b:abs() + 0.5) end, { 3, 4 }, { 3, 4 } },
  { "div bc",   function(a, b) return a / (b:abs() + 0.5) end, { 3, 4 }, { 1 } },
  { "pow",      function(a, b) return (a:abs() + 0.5) ^ b end, { 3, 4 }, { 3, 4 } },
  { "maximum",  function(a, b) return a:maximum(b) end,    { 3, 4 }, { 3, 4 } },
  { "minimum",  function(a, b) return a:minimum(b) end,    { 3, 4 }, { 4 } },
  { "matmul",   function(a, b) return a:matmul(b) end,     { 3, 4 }, { 4, 5 } },
  { "bmm",      function(a, b) return a:matmul(b) end,     { 2, 3, 4 }, { 2, 4, 5 } },
  { "3d@2d",    function(a, b) return a:matmul(b) end,     { 2, 3, 4 }, { 4, 5 } },
  { "2d@3d",    function(a, b) return a:matmul(b) end,     { 3, 4 }, { 2, 4, 5 } },
  { "mm^2",     function(a, b) local c = a:matmul(b); return c * c end, { 3, 4 }, { 4, 5 } },
  { "cat",      function(a, b) return tensor.cat({ a, b, a }, 2) ^ 2 end, { 3, 4 }, { 3, 2 } },
  { "stack",    function(a, b) return tensor.stack({ a, b }, 2) ^ 2 end, { 3, 4 }, { 3, 4 } },
  { "gp-like",  function(a, b) return ((a:matmul(b)):tanh():sum(2) - 1) ^ 2 end, { 3, 4 }, { 4, 2 } },
  -- products by each path of gl_sgemm: OpenBLAS (small), oneDNN (from 16k
  -- multiply-adds), and the skinny forms (a side of at most 4), both
  -- transposes reached through the backward (scaled so that float32's
  -- finite differences stay accurate over the longer sums)
  { "mm blas",  function(a, b) return (a:matmul(b) * 0.3):tanh() end, { 6, 7 }, { 7, 5 } },
  { "mm dnnl",  function(a, b) return (a:matmul(b) * 0.15):tanh() end, { 24, 30 }, { 30, 25 } },
  { "mm K=2",   function(a, b) return (a:matmul(b) * 0.5):tanh() end, { 40, 2 }, { 2, 45 } },
  { "mm N=1",   function(a, b) return (a:matmul(b) * 0.15):tanh() end, { 40, 50 }, { 50, 1 } },
  { "mm N=2 t", function(a, b) return (a:matmul(b:t()) * 0.15):tanh() end, { 40, 50 }, { 2, 50 } },
  { "mm M=3 t", function(a, b) return (a:t():matmul(b) * 0.15):tanh() end, { 50, 3 }, { 50, 40 } },
  { "bce_logits t", function(a, b) return losses.bce_with_logits(a * 3, b:sigmoid()) end, { 3, 4 }, { 3, 4 } },
  { "bce_logits t1", function(a, b) return losses.bce_with_logits(a * 3, b:sigmoid(), { reduction = "sum" }) end, { 3, 4 }, { 1 } },
}

for _, b in ipairs(binary) do
  local name, f, sa, sb = b[1], b[2], b[3], b[4]
  test("gradcheck " .. name, function() check.gradcheck(f, { rn(sa), rn(sb) }) end)
  test("gradgradcheck " .. name, function() check.gradgradcheck(f, { rn(sa), rn(sb) }) end)
end

-- Weight normalisation, one fused op (runtime/ops_norm.c), its
-- create_graph backward composite: both orders, in v and g, on A x K and
-- A x B x C (MinibatchDiscrimination's layout); and its closed form: each
-- column of the output has norm |g|.
local wn = require("ganlua.core").nn.weight_norm
test("gradcheck weight_norm", function() check.gradcheck(function(v, g) return wn(v, g) end, { rn(4, 3), rn(3) }) end)
test("gradgradcheck weight_norm", function() check.gradgradcheck(function(v, g) return wn(v, g) end, { rn(4, 3), rn(3) }) end)
test("gradcheck weight_norm 3d", function() check.gradcheck(function(v, g) return wn(v, g) ^ 2 end, { rn(3, 2, 2), rn(2, 2) }) end)
test("gradgradcheck weight_norm 3d", function() check.gradgradcheck(function(v, g) return wn(v, g) ^ 2 end, { rn(3, 2, 2), rn(2, 2) }) end)
test("weight_norm: columns of norm |g|, fused and composite backward agree, bad shapes named", function()
  local v, g = rn(5, 2, 3):requires_grad(), rn(2, 3):requires_grad()
  local y = wn(v, g)
  check.allclose(y:norm(2, 1), g:abs():detach(), 1e-5)
  check.allclose(y, v * (g / (v * v):sum(1):sqrt()), 1e-6)
  local r = rn(5, 2, 3)
  local fast = autograd.grad((y * r):sum(), { v, g }, { retain_graph = true })
  local slow = autograd.grad((y * r):sum(), { v, g }, { create_graph = true })
  check.allclose(fast[1], slow[1]:detach(), 1e-5)
  check.allclose(fast[2], slow[2]:detach(), 1e-5)
  check.raises(function() wn(rn(5, 2, 3), rn(3, 2)) end, "g must have v's shape without its first dim")
  check.raises(function() wn(rn(5), rn(1)) end, "at least 2 dims")
end)

-- Third order on a chain, through the same machinery.
test("third derivative of x^4 is 24x", function()
  local x = tensor.from { 0.5, -1.0, 2.0 }:requires_grad()
  local y = (x ^ 4):sum()
  local g1 = autograd.grad(y, x, { create_graph = true })
  local g2 = autograd.grad(g1:sum(), x, { create_graph = true })
  local g3 = autograd.grad(g2:sum(), x)
  check.allclose(g1, { 4 * 0.125, -4, 32 }, 1e-5)
  check.allclose(g2, { 12 * 0.25, 12, 48 }, 1e-5)
  check.allclose(g3, { 12, -24, 48 }, 1e-5)
end)

-- The fused backward (no create_graph) and the composite one agree.
test("fused and composite backward agree", function()
  for _, u in ipairs(unary) do
    local x = u[3]():requires_grad()
    local y = u[2](x)
    local r = tensor.randn(y:size())
    local fast = autograd.grad((y * r):sum(), x, { retain_graph = true })
    local slow = autograd.grad((y * r):sum(), x, { create_graph = true })
    check.allclose(fast, slow:detach(), 1e-5, u[1])
  end
end)

-- WGAN-GP's penalty through a small critic: the gradient of the penalty
-- with respect to the weights needs second derivatives of matmul and relu.
test("gradient penalty differentiates through the critic", function()
  local W1, W2 = rn(2, 8):requires_grad(), rn(8, 1):requires_grad()
  local real, fake = rn(5, 2), rn(5, 2)
  local function gp(w1, w2)
    local eps = tensor.from { 0.1, 0.3, 0.5, 0.7, 0.9 }:reshape(5, 1)
    local xhat = (eps * real + (1 - eps) * fake):requires_grad()
    local d = xhat:matmul(w1):tanh():matmul(w2)
    local g = autograd.grad(d:sum(), xhat, { create_graph = true })
    return ((g:norm(2, -1) - 1) ^ 2):mean()
  end
  check.gradcheck(gp, { W1, W2 })
end)

test("grad accumulates across backward calls and grad = nil resets", function()
  local x = tensor.from { 1, 2, 3 }:requires_grad()
  local y1, y2 = (x * 2):sum(), (x * x):sum()
  y1:backward()
  y2:backward()
  check.allclose(x.grad, { 4, 6, 8 })
  x.grad = nil
  check.eq(x.grad, nil)
  local y3 = (x * 3):sum()
  y3:backward()
  check.allclose(x.grad, { 3, 3, 3 })
end)

-- A leaf's own backward: no node to run, the gradient is the seed (as in
-- PyTorch); this path once handed memcpy a null pointer (UBSan).
test("backward of a leaf gives it the seed gradient", function()
  local x = tensor.from { 1, 2, 3 }:requires_grad()
  x:sum():backward()
  local s = tensor.from { 5 }:requires_grad()
  s:backward()
  check.allclose(s.grad, { 1 })
  check.allclose(x.grad, { 1, 1, 1 })
end)

test("backward with an explicit gradient", function()
  local x = tensor.from { 1, 2, 3 }:requires_grad()
  local y = x * x
  y:backward(tensor.from { 1, 0, -1 })
  check.allclose(x.grad, { 2, 0, -6 })
end)

test("shared inputs: gradient of a + a and a * a", function()
  local a = tensor.from { 1, -2 }:requires_grad()
  local ga = autograd.grad((a + a):sum(), a)
  check.allclose(ga, { 2, 2 })
  local gb = autograd.grad((a * a):sum(), a)
  check.allclose(gb, { 2, -4 })
end)

test("autograd.grad leaves .grad alone and returns a list for a list", function()
  local a, b = tensor.from { 1, 2 }:requires_grad(), tensor.from { 3, 4 }:requires_grad()
  local gs = autograd.grad((a * b):sum(), { a, b })
  check.allclose(gs[1], { 3, 4 })
  check.allclose(gs[2], { 1, 2 })
  check.eq(a.grad, nil)
  check.eq(b.grad, nil)
end)

test("grad with respect to a non-leaf", function()
  local x = tensor.from { 1, 2 }:requires_grad()
  local h = x * 3
  local y = (h * h):sum()
  local gh = autograd.grad(y, h)
  check.allclose(gh, { 6, 12 })
end)

test("no_grad records nothing and restores the mode after an error", function()
  local x = tensor.ones(2):requires_grad()
  local y = autograd.no_grad(function() return x * 2 end)
  check.eq(y.grad_fn, nil)
  check.eq(y:is_requires_grad(), false)
  pcall(autograd.no_grad, function() error("boom") end)
  check.eq(autograd.is_grad_enabled(), true)
  check.truthy((x * 2).grad_fn)
end)

test("detach cuts the graph", function()
  local x = tensor.ones(2):requires_grad()
  local y = (x * 2):detach()
  check.eq(y.grad_fn, nil)
  check.eq(y:is_requires_grad(), false)
end)

test("retain_graph allows a second backward", function()
  local x = tensor.from { 1, 2 }:requires_grad()
  local y = (x:exp()):sum()
  y:backward(nil, { retain_graph = true })
  y:backward()
  check.allclose(x.grad, { 2 * math.exp(1), 2 * math.exp(2) }, 1e-5)
end)

test("a deep chain backward does not overflow the stack", function()
  local x = tensor.ones(1):requires_grad()
  local y = x
  for _ = 1, 100000 do y = y * 1.0 end
  y:sum():backward()
  check.allclose(x.grad, { 1 })
  y = nil
  collectgarbage()
end)

test("gradcheck detects a wrong gradient", function()
  -- sign() has zero gradient but a finite difference across 0 does not
  local ok = autograd.gradcheck(function(x) return x:sign() end, tensor.from { 0.0, 1e-4 })
  check.eq(ok, false)
end)

test("norm of a zero vector has a zero (not NaN) gradient", function()
  local x = tensor.zeros(3):requires_grad()
  x:norm():backward()
  check.allclose(x.grad, { 0, 0, 0 })
end)
