-- ganlua.autograd: backward, grad, no_grad (C), plus gradient checks
-- against central finite differences.
--
-- Tensors are float32, so the check perturbs inputs by eps (default 1e-3)
-- and sums outputs in double precision; tolerances are set for float32
-- (|analytic - numeric| <= atol + rtol * |numeric|).
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local A = core.autograd
local T = core.tensor

-- the inputs as a list of Tensors (for check_args: errors point at the
-- caller of the caller of check_args)
local function as_list(name, x)
  if T.is_tensor(x) then return { x }, true end
  local ok = type(x) == "table" and #x > 0
  for i = 1, ok and #x or 0 do ok = ok and T.is_tensor(x[i]) end
  if not ok then argcheck.fail(name, 2, "inputs", "a Tensor or a list of Tensors", x) end
  return x, false
end

-- the options of gradcheck and gradgradcheck (float32 defaults, see above)
local function check_opts(name)
  return argcheck.options(name, { eps = { 1e-3, positive = true }, atol = { 1e-3, min = 0 }, rtol = { 1e-2, min = 0 } })
end
local CHECK_OPTS = { ["autograd.gradcheck"] = check_opts("autograd.gradcheck"),
                     ["autograd.gradgradcheck"] = check_opts("autograd.gradgradcheck") }

-- fn, inputs, opts of gradcheck and gradgradcheck
local function check_args(name, fn, inputs, opts)
  argcheck.callable(name, 1, fn, "fn")
  local xs = as_list(name, inputs)
  return xs, CHECK_OPTS[name]:check(opts, 3)
end

-- A fixed, RNG-free projection: the checks reduce a tensor output to a
-- scalar s = sum(y * r), so one backward gives the whole gradient.
local function projection(y)
  local v = {}
  for i = 1, y:numel() do v[i] = math.sin(0.7 * i + 0.3) end
  return T.from(v):reshape(y:size())
end

local function eval_sum(fn, xs, r)
  local y = fn(table.unpack(xs))
  if not T.is_tensor(y) then argcheck.raise("gradcheck: the function must return a Tensor") end
  return T._dot(y, r)
end

--- autograd.gradcheck(fn, inputs [, {eps=, atol=, rtol=}]) -> ok, report
-- fn(x1, x2, ...) returns a Tensor; inputs is a Tensor or a list. Inputs
-- that require grad are checked (all of them if none does).
function A.gradcheck(fn, inputs, opts)
  local xs
  xs, opts = check_args("autograd.gradcheck", fn, inputs, opts)
  local eps, atol, rtol = opts.eps or 1e-3, opts.atol or 1e-3, opts.rtol or 1e-2
  local check = {}
  for i, x in ipairs(xs) do if x:is_requires_grad() then check[#check + 1] = i end end
  if #check == 0 then
    for i, x in ipairs(xs) do x:requires_grad(); check[i] = i end
  end
  local y = fn(table.unpack(xs))
  if not T.is_tensor(y) then argcheck.raise("gradcheck: the function must return a Tensor") end
  local r = projection(y)
  local wrt = {}
  for k, i in ipairs(check) do wrt[k] = xs[i] end
  local analytic
  if y:is_requires_grad() then
    analytic = A.grad((y * r):sum(), wrt, { allow_unused = true })
  else
    analytic = {}
  end
  local worst, report = 0, "ok"
  for k, i in ipairs(check) do
    local x = xs[i]
    local ga = analytic[k]
    for e = 1, x:numel() do
      local v = T._get(x, e)
      T._set(x, e, v + eps)
      local sp = eval_sum(fn, xs, r)
      T._set(x, e, v - eps)
      local sm = eval_sum(fn, xs, r)
      T._set(x, e, v)
      local num = (sp - sm) / (2 * eps)
      local ana = ga and T._get(ga, e) or 0
      local err = math.abs(ana - num)
      local tol = atol + rtol * math.abs(num)
      if err / tol > worst then
        worst = err / tol
        report = string.format("input %d element %d: analytic %.6g, numeric %.6g (error %.3g, tolerance %.3g)",
                               i, e, ana, num, err, tol)
      end
    end
  end
  return worst <= 1, report
end

--- autograd.gradgradcheck(fn, inputs [, opts]) -> ok, report
-- Checks second derivatives: the gradient of sum(fn(...) * r), taken with
-- create_graph = true, is itself checked against finite differences.
function A.gradgradcheck(fn, inputs, opts)
  local xs = check_args("autograd.gradgradcheck", fn, inputs, opts)
  for _, x in ipairs(xs) do if not x:is_requires_grad() then x:requires_grad() end end
  local r
  local function first_grad(...)
    local args = { ... }
    return A.enable_grad(function()
      local y = fn(table.unpack(args))
      if not T.is_tensor(y) then error("gradgradcheck: the function must return a Tensor", 0) end
      r = r or projection(y)
      if not y:is_requires_grad() then return T.zeros(1) end
      local gs = A.grad((y * r):sum(), args, { create_graph = true, allow_unused = true })
      local flat = {}
      for k = 1, #args do
        flat[k] = gs[k] and gs[k]:reshape(-1) or T.zeros(args[k]:numel())
      end
      return T.cat(flat)
    end)
  end
  -- under no_grad (the finite-difference evaluations) the gradient is still
  -- needed, so first_grad turns grad mode back on for itself
  return A.gradcheck(first_grad, xs, opts)
end

return A
