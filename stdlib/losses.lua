-- ganlua.losses: the losses GAN scripts use, composed of differentiable
-- ops (so every one of them has second derivatives too). Each takes
-- {reduction = "mean" | "sum" | "none"} as its last argument; a target may
-- be a number (1 for "real") or a tensor broadcastable to the input.
local core = require "ganlua.core"
local T, A = core.tensor, core.autograd

local L = {}

local function reduce(x, o, name)
  local r = (type(o) == "table" and o.reduction) or "mean"
  if r == "mean" then return x:mean() end
  if r == "sum" then return x:sum() end
  if r == "none" then return x end
  error(string.format("%s: reduction must be \"mean\", \"sum\" or \"none\", got %s", name, tostring(r)), 3)
end

local function check_input(name, x)
  if not T.is_tensor(x) then error(name .. ": input must be a Tensor, got " .. type(x), 3) end
end

local function check_target(name, x, t)
  if type(t) == "number" then return end
  if not T.is_tensor(t) then error(name .. ": target must be a number or a Tensor, got " .. type(t), 3) end
  if t:numel() ~= x:numel() and t:numel() ~= 1 then
    error(string.format("%s: target %s does not match input %s", name, table.concat(t:size(), "x"),
      table.concat(x:size(), "x")), 3)
  end
end

-- -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as PyTorch does
function L.bce(p, t, o)
  check_input("bce", p); check_target("bce", p, t)
  if type(t) == "table" or T.is_tensor(t) then t = t:reshape(p:size()) end
  local lp, lq = p:log():clamp(-100), (1 - p):log():clamp(-100)
  return reduce(-(lp * t + lq * (1 - t)), o, "bce")
end

-- softplus(x) - x t: stable for any logit
function L.bce_with_logits(x, t, o)
  check_input("bce_with_logits", x); check_target("bce_with_logits", x, t)
  if T.is_tensor(t) then t = t:reshape(x:size()) end
  return reduce(x:softplus() - x * t, o, "bce_with_logits")
end

function L.mse(x, t, o)
  check_input("mse", x); check_target("mse", x, t)
  if T.is_tensor(t) then t = t:reshape(x:size()) end
  local d = x - t
  return reduce(d * d, o, "mse")
end

function L.l1(x, t, o)
  check_input("l1", x); check_target("l1", x, t)
  if T.is_tensor(t) then t = t:reshape(x:size()) end
  return reduce((x - t):abs(), o, "l1")
end

local function classes(name, logits, target)
  check_input(name, logits)
  if logits:dim() ~= 2 then
    error(string.format("%s: expected N x C scores, got %s", name, table.concat(logits:size(), "x")), 3)
  end
  if not T.is_tensor(target) then target = T.from(target) end
  if target:numel() ~= logits:size(1) then
    error(string.format("%s: %d targets for %d rows", name, target:numel(), logits:size(1)), 3)
  end
  return T.one_hot(target:reshape(-1), logits:size(2))
end

-- nll(log_probs, target): target holds 1-based classes
function L.nll(logp, target, o)
  local q = classes("nll", logp, target)
  return reduce(-(logp * q):sum(2), o, "nll")
end

-- cross_entropy(logits, target [, {label_smoothing = 0, reduction}])
function L.cross_entropy(logits, target, o)
  local q = classes("cross_entropy", logits, target)
  local eps = type(o) == "table" and o.label_smoothing or 0
  if eps > 0 then q = q * (1 - eps) + eps / logits:size(2) end
  return reduce(-(logits:log_softmax(2) * q):sum(2), o, "cross_entropy")
end

-- gaussian_nll(mean, target, var [, {full = false, eps = 1e-6}]):
-- 0.5 (log max(var, eps) + (mean - target)^2 / max(var, eps)) [+ 0.5 log 2 pi]
function L.gaussian_nll(mu, target, var, o)
  check_input("gaussian_nll", mu)
  o = type(o) == "table" and o or {}
  local v = T.is_tensor(var) and var:clamp(o.eps or 1e-6) or math.max(var, o.eps or 1e-6)
  local d = mu - target
  local loss
  if T.is_tensor(v) then loss = (v:log() + d * d / v) * 0.5
  else loss = d * d * (0.5 / v) + 0.5 * math.log(v) end
  if o.full then loss = loss + 0.5 * math.log(2 * math.pi) end
  return reduce(loss, o, "gaussian_nll")
end

-- hinge losses (Lim & Ye; Miyato et al.)
function L.hinge_d(d_real, d_fake)
  return (1 - d_real):relu():mean() + (1 + d_fake):relu():mean()
end
function L.hinge_g(d_fake) return -d_fake:mean() end

-- WGAN: the critic maximises E D(x) - E D(G(z)); as losses to minimise
function L.wasserstein_d(d_real, d_fake) return d_fake:mean() - d_real:mean() end
function L.wasserstein_g(d_fake) return -d_fake:mean() end

-- || mean_batch f(x) - mean_batch f(G(z)) ||^2 (Salimans et al. 2016)
function L.feature_matching(f_real, f_fake)
  check_input("feature_matching", f_real); check_input("feature_matching", f_fake)
  local d = f_real:mean(1) - f_fake:mean(1)
  return (d * d):sum()
end

-- WGAN-GP (Gulrajani et al. 2017): lambda E (||grad D(xhat)||_2 - 1)^2 at
-- random interpolates xhat = eps real + (1 - eps) fake
function L.gradient_penalty(D, real, fake, o)
  o = type(o) == "table" and o or {}
  local lambda = o.lambda or 10
  local n = real:size(1)
  local es = { n }
  for _ = 2, real:dim() do es[#es + 1] = 1 end
  local eps = T.rand(es)
  local xhat = (eps * real:detach() + (1 - eps) * fake:detach()):requires_grad()
  local g = A.grad(D(xhat):sum(), xhat, { create_graph = true })
  return ((g:reshape(n, -1):norm(2, 2) - 1) ^ 2):mean() * lambda
end

-- kl_div(input = log q, target = p [, {reduction = "mean" | "batchmean" |
-- "sum" | "none", log_target = false}]): p (log p - log q), 0 where p = 0
function L.kl_div(logq, p, o)
  o = type(o) == "table" and o or {}
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
