-- ganlua.losses: the losses GAN scripts use, composed of differentiable
-- ops (so every one of them has second derivatives too). Each takes
-- {reduction = "mean" | "sum" | "none"} as its last argument; a target may
-- be a number (1 for "real") or a tensor broadcastable to the input.
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local T, A = core.tensor, core.autograd

local L = {}

-- Each loss's options are declared (argcheck.options): PyTorch's keys,
-- defaults and ranges; a typo is an error with a "did you mean".
local REDUCTION = { "mean", choices = { "mean", "sum", "none" } }
local function declare(name, extra)
  local spec = { reduction = REDUCTION }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return argcheck.options("losses." .. name, spec)
end
local OPTS = {
  bce = declare("bce", { weight = { nil, kind = "tensor" } }),
  bce_with_logits = declare("bce_with_logits", { weight = { nil, kind = "tensor" }, pos_weight = { nil, kind = "tensor" } }),
  mse = declare("mse"), l1 = declare("l1"),
  nll = declare("nll"),
  cross_entropy = declare("cross_entropy", { label_smoothing = { 0.0, min = 0, max = 1 }, weight = { nil, kind = "tensor" } }),
  gaussian_nll = declare("gaussian_nll", { full = { false }, eps = { 1e-6, positive = true } }),
  kl_div = declare("kl_div", { reduction = { "mean", choices = { "mean", "batchmean", "sum", "none" } },
                               log_target = { false } }),
  gradient_penalty = argcheck.options("losses.gradient_penalty", { lambda = { 10.0, min = 0 } }),
}

-- a loss's checked options; without any, its defaults, checked once and
-- read-only (a loss is called several times a step; building the table
-- each time was a fifth of a toy D step's Lua)
local DEFAULTS = {}
for name, decl in pairs(OPTS) do
  DEFAULTS[name] = setmetatable(decl:check(nil), { __newindex = function() error("losses: defaults are read-only", 2) end })
end
local function options(name, o, i)
  if o == nil then return DEFAULTS[name] end
  return OPTS[name]:check(o, i)
end

-- Every loss ends in `return reduce(...)`, with its checked options.
local function reduce(x, o, name)
  local r = o.reduction
  if r == "mean" then
    if x:numel() == 0 then argcheck.raise(name .. ": the mean of an empty input (use reduction = \"sum\" or \"none\")") end
    return x:mean()
  end
  if r == "sum" then return x:sum() end
  return x
end

local function check_input(name, x)
  if not T.is_tensor(x) then argcheck.raise(name .. ": input must be a Tensor, got " .. argcheck.typename(x)) end
end

-- a target as the losses use it: a number, a one-element Tensor, or a
-- Tensor of x's own shape. Other shapes are refused rather than paired in
-- memory order: 2x3 against 3x2 would pair the wrong elements, and N
-- against N x 1 is what PyTorch broadcasts to N x N (with a warning).
local function as_target(x, t)
  if T.is_tensor(t) and t:numel() == 1 and x:numel() ~= 1 then return t:reshape(1) end
  return t
end

local function same_shape(a, b)
  if a:dim() ~= b:dim() then return false end
  for d = 1, a:dim() do if a:size(d) ~= b:size(d) then return false end end
  return true
end

local function check_target(name, x, t, what)
  what = what or "target"
  if type(t) == "number" then return end
  if not T.is_tensor(t) then argcheck.raise(string.format("%s: %s must be a number or a Tensor, got %s", name, what, argcheck.typename(t))) end
  if t:numel() ~= 1 and not same_shape(t, x) then
    argcheck.raise(string.format("%s: %s %s does not match input %s (give both the same shape)", name, what,
      table.concat(t:size(), "x"), table.concat(x:size(), "x")))
  end
end

-- -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as PyTorch does
-- log u as PyTorch's BCELoss takes it: the value log(u) clamped at -100,
-- the gradient 1 / max(u, 1e-12), which is its backward's bound (eps =
-- 1e-12 on p (1 - p)). log(u):clamp(-100) alone has the right value, but
-- at u = 0 its gradient is 0 * (1/0) = NaN: a D that saturated (D(G(z)) ==
-- 1 in float32) turned every parameter of a DCGAN into NaN.
local function bce_log(u)
  local c = u + (u:clamp(1e-12, math.huge) - u):detach() -- max(u, 1e-12), gradient 1
  local l = c:log()
  return l + (u:log():clamp(-100) - l):detach()
end

function L.bce(p, t, o)
  check_input("bce", p); check_target("bce", p, t)
  o = options("bce", o, 3)
  -- PyTorch refuses probabilities outside [0, 1] (a missing sigmoid)
  if p:numel() > 0 then
    local lo, hi = p:min():item(), p:max():item()
    if lo ~= lo or hi ~= hi then
      argcheck.raise("bce: the input holds NaN (a model's parameters or inputs went NaN before this loss)")
    end
    if not (lo >= 0 and hi <= 1) then
      argcheck.raise(string.format("bce: input must hold probabilities in [0, 1], got values in [%.4g, %.4g]%s", lo, hi,
        " (for logits use losses.bce_with_logits)"))
    end
  end
  t = as_target(p, t)
  local l = -(bce_log(p) * t + bce_log(1 - p) * (1 - t))
  if o.weight then l = l * o.weight end -- PyTorch's weight: each element rescaled (broadcast)
  return reduce(l, o, "bce")
end

-- softplus(x) - x t: stable for any logit
function L.bce_with_logits(x, t, o)
  check_input("bce_with_logits", x); check_target("bce_with_logits", x, t)
  o = options("bce_with_logits", o, 3)
  t = as_target(x, t)
  local l
  if o.pos_weight then
    -- -(pw t log s(x) + (1 - t) log(1 - s(x))) = (1 - t) x + (1 + (pw - 1) t) softplus(-x)
    l = x * (1 - t) + (-x):softplus() * ((o.pos_weight - 1) * t + 1)
  else
    l = T._bce_with_logits(x, t) -- softplus(x) - x t as one op
  end
  if o.weight then l = l * o.weight end
  return reduce(l, o, "bce_with_logits")
end

function L.mse(x, t, o)
  check_input("mse", x); check_target("mse", x, t)
  o = options("mse", o, 3)
  t = as_target(x, t)
  local d = x - t
  return reduce(d * d, o, "mse")
end

function L.l1(x, t, o)
  check_input("l1", x); check_target("l1", x, t)
  o = options("l1", o, 3)
  t = as_target(x, t)
  return reduce((x - t):abs(), o, "l1")
end

local function classes(name, logits, target)
  check_input(name, logits)
  if logits:dim() ~= 2 then
    argcheck.raise(string.format("%s: expected N x C scores, got %s", name, table.concat(logits:size(), "x")))
  end
  if type(target) == "table" then target = argcheck.within(name, T.from, target) end
  if not T.is_tensor(target) then
    argcheck.raise(string.format("%s: target must be a Tensor or a table of 1-based classes, got %s", name,
      argcheck.typename(target)))
  end
  if target:numel() ~= logits:size(1) then
    argcheck.raise(string.format("%s: %d targets for %d rows", name, target:numel(), logits:size(1)))
  end
  return (argcheck.within(name, T.one_hot, target:reshape(-1), logits:size(2)))
end

-- nll(log_probs, target): target holds 1-based classes
function L.nll(logp, target, o)
  local q = classes("nll", logp, target)
  o = options("nll", o, 3)
  return reduce(-(logp * q):sum(2), o, "nll")
end

-- cross_entropy(logits, target [, {label_smoothing = 0, reduction}])
function L.cross_entropy(logits, target, o)
  local q = classes("cross_entropy", logits, target)
  o = options("cross_entropy", o, 3)
  local eps, w = o.label_smoothing, o.weight
  local smooth = eps > 0 and q * (1 - eps) + eps / logits:size(2) or q
  if not w then return reduce(-(logits:log_softmax(2) * smooth):sum(2), o, "cross_entropy") end
  -- PyTorch's class weights: each class's log-probability scaled by its
  -- weight (label smoothing included); the mean divides by the weights
  -- of the targets
  if w:numel() ~= logits:size(2) then
    argcheck.raise(string.format("cross_entropy: weight has %d entries for %d classes", w:numel(), logits:size(2)))
  end
  w = w:reshape(1, -1)
  local l = -(logits:log_softmax(2) * smooth * w):sum(2)
  if o.reduction == "mean" then return l:sum() / (q * w):sum() end
  return reduce(l, o, "cross_entropy")
end

-- gaussian_nll(mean, target, var [, {full = false, eps = 1e-6}]):
-- 0.5 (log max(var, eps) + (mean - target)^2 / max(var, eps)) [+ 0.5 log 2 pi]
function L.gaussian_nll(mu, target, var, o)
  check_input("gaussian_nll", mu); check_target("gaussian_nll", mu, target)
  if type(var) ~= "number" and not T.is_tensor(var) then
    argcheck.fail("gaussian_nll", 3, "var", "a number or a Tensor", var)
  end
  check_target("gaussian_nll", mu, var, "var")
  o = options("gaussian_nll", o, 4)
  local eps = o.eps
  -- PyTorch: "var has negative entry/entries"
  local vmin = T.is_tensor(var) and (var:numel() > 0 and var:min():item() or 0) or var
  if not (vmin >= 0) then argcheck.raise("gaussian_nll: var has a negative (or NaN) entry: " .. tostring(vmin)) end
  target, var = as_target(mu, target), as_target(mu, var)
  local v = T.is_tensor(var) and var:clamp(eps) or math.max(var, eps)
  local d = mu - target
  local loss
  if T.is_tensor(v) then loss = (v:log() + d * d / v) * 0.5
  else loss = d * d * (0.5 / v) + 0.5 * math.log(v) end
  if o.full then loss = loss + 0.5 * math.log(2 * math.pi) end
  return reduce(loss, o, "gaussian_nll")
end

-- the critic's scores for hinge_* and wasserstein_*: a non-empty Tensor
local function check_scores(name, i, argname, x)
  if not T.is_tensor(x) or x:numel() == 0 then
    argcheck.fail(name, i, argname, "a non-empty Tensor of critic scores", x)
  end
end

-- hinge losses (Lim & Ye; Miyato et al.)
function L.hinge_d(d_real, d_fake)
  check_scores("hinge_d", 1, "d_real", d_real); check_scores("hinge_d", 2, "d_fake", d_fake)
  return (1 - d_real):relu():mean() + (1 + d_fake):relu():mean()
end
function L.hinge_g(d_fake)
  check_scores("hinge_g", 1, "d_fake", d_fake)
  return -d_fake:mean()
end

-- WGAN: the critic maximises E D(x) - E D(G(z)); as losses to minimise
function L.wasserstein_d(d_real, d_fake)
  check_scores("wasserstein_d", 1, "d_real", d_real); check_scores("wasserstein_d", 2, "d_fake", d_fake)
  return d_fake:mean() - d_real:mean()
end
function L.wasserstein_g(d_fake)
  check_scores("wasserstein_g", 1, "d_fake", d_fake)
  return -d_fake:mean()
end

-- two batches of the same shape (at least one sample each), for the losses
-- that compare real with fake; errors point at the caller of the loss
local function check_pair(name, i, a, aname, b, bname)
  argcheck.tensor(name, i, a, aname); argcheck.tensor(name, i + 1, b, bname)
  local sa, sb = a:size(), b:size()
  local same = #sa == #sb
  for k = 2, #sa do same = same and sa[k] == sb[k] end
  if not same or #sa < 1 or sa[1] < 1 or sb[1] < 1 then
    argcheck.raise(string.format("%s: %s %s and %s %s must be batches (N x ...) with the same sample shape", name, aname,
      table.concat(sa, "x"), bname, table.concat(sb, "x")))
  end
end

-- || mean_batch f(x) - mean_batch f(G(z)) ||^2 (Salimans et al. 2016)
function L.feature_matching(f_real, f_fake)
  check_pair("feature_matching", 1, f_real, "f_real", f_fake, "f_fake")
  local d = f_real:mean(1) - f_fake:mean(1)
  return (d * d):sum()
end

-- WGAN-GP (Gulrajani et al. 2017): lambda E (||grad D(xhat)||_2 - 1)^2 at
-- random interpolates xhat = eps real + (1 - eps) fake; also returns the
-- gradient norms themselves (N, detached), the penalty's diagnostic
function L.gradient_penalty(D, real, fake, o)
  argcheck.callable("gradient_penalty", 1, D, "D")
  check_pair("gradient_penalty", 2, real, "real", fake, "fake")
  if real:size(1) ~= fake:size(1) or real:numel() == 0 then
    argcheck.raise(string.format("gradient_penalty: real %s and fake %s must be non-empty batches of the same size",
      table.concat(real:size(), "x"), table.concat(fake:size(), "x")))
  end
  local lambda = options("gradient_penalty", o, 4).lambda
  local n = real:size(1)
  local es = { n }
  for _ = 2, real:dim() do es[#es + 1] = 1 end
  local eps = T.rand(es)
  local xhat = (eps * real:detach() + (1 - eps) * fake:detach()):requires_grad()
  local out = D(xhat)
  if not T.is_tensor(out) then argcheck.raise("gradient_penalty: D returned " .. argcheck.typename(out) .. ", expected a Tensor") end
  local g = out:is_requires_grad() and A.grad(out:sum(), xhat, { create_graph = true, allow_unused = true })
  if not g then argcheck.raise("gradient_penalty: D's output does not depend on its input") end
  local norms = g:reshape(n, -1):norm(2, 2)
  return ((norms - 1) ^ 2):mean() * lambda, norms:detach()
end

-- kl_div(input = log q, target = p [, {reduction = "mean" | "batchmean" |
-- "sum" | "none", log_target = false}]): p (log p - log q), 0 where p = 0
function L.kl_div(logq, p, o)
  check_input("kl_div", logq)
  argcheck.tensor("kl_div", 2, p, "target")
  check_target("kl_div", logq, p)
  o = options("kl_div", o, 3)
  if o.reduction == "batchmean" and logq:dim() < 1 then argcheck.raise("kl_div: batchmean needs an input with a batch dim") end
  p = as_target(logq, p)
  local term
  if o.log_target then term = p:exp() * (p - logq)
  else
    local safe = p + p:eq(0)          -- log of 1 where p = 0; the product is 0 there
    term = p * (safe:log() - logq)
  end
  if o.reduction == "batchmean" then return term:sum() / logq:size(1) end
  return reduce(term, o, "kl_div")
end

return L
