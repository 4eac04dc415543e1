-- ganlua.optim: SGD, Adam and RMSprop with PyTorch's update rules; each
-- parameter's update is one fused C kernel (bindings/nn.c, runtime/optim.c).
--   local opt = optim.Adam(G:parameters(), {lr = 2e-4, betas = {0.5, 0.999}})
--   opt:zero_grad(); loss:backward(); opt:step()
-- opt.lr can be changed at any time; state_dict/load_state_dict save and
-- restore the step counts and moment buffers.
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local T, C, A = core.tensor, core.nn, core.autograd

local optim = {}

local Optimizer = {}
Optimizer.__index = Optimizer

local function param_list(name, params)
  if type(params) == "table" and params.parameters and params._params then params = params:parameters() end
  if T.is_tensor(params) then params = { params } end
  if type(params) ~= "table" or #params == 0 then
    argcheck.raise(name .. ": expected a list of parameters (e.g. model:parameters())")
  end
  local seen = {}
  for i, p in ipairs(params) do
    if not T.is_tensor(p) then argcheck.raise(string.format("%s: parameter %d is not a Tensor", name, i)) end
    if not p.is_leaf then argcheck.raise(string.format("%s: parameter %d is not a leaf tensor", name, i)) end
    -- the same tensor twice would be stepped twice per step (PyTorch refuses it too)
    if seen[p] then argcheck.raise(string.format("%s: parameters %d and %d are the same tensor", name, seen[p], i)) end
    seen[p] = i
  end
  return params
end

-- every optimizer's options are declared (argcheck.options): PyTorch's
-- defaults and its ranges (lr, eps, momentum, alpha and weight_decay >= 0,
-- betas in [0, 1)); the same declaration checks load_state_dict's options
local function new(cls, decl, params, o)
  local name = decl.fn:match("[^.]*$")
  local self = setmetatable({ name = name, params = param_list(name, params), state = {}, _decl = decl }, cls)
  for k, v in pairs(decl:check(o, 2)) do self[k] = v end
  for i = 1, #self.params do self.state[i] = { step = 0 } end
  return self
end

function Optimizer:zero_grad()
  for _, p in ipairs(self.params) do p.grad = nil end
end

function Optimizer:step()
  if self.prepare then self:prepare() end -- what every parameter's update shares, once per step
  for i, p in ipairs(self.params) do
    local g = p.grad
    if g then
      local s = self.state[i]
      s.step = s.step + 1
      self:update(p, g, s)
    end
  end
end

local function zeros_like(p) return T.zeros(p:size()) end

-- {state = {[i] = {step = n, <buffer> = Tensor, ...}}, options = {...}}
function Optimizer:state_dict()
  local st = {}
  for i, s in ipairs(self.state) do
    local c = {}
    for k, v in pairs(s) do c[k] = T.is_tensor(v) and v:clone() or v end
    st[i] = c
  end
  local opts = {}
  for _, k in ipairs(self._decl.keys) do opts[k] = self[k] end
  return { state = st, options = opts }
end

function Optimizer:load_state_dict(sd)
  if type(sd) ~= "table" or type(sd.state) ~= "table" or (sd.options ~= nil and type(sd.options) ~= "table") then
    argcheck.raise(self.name .. ".load_state_dict: not an optimizer state")
  end
  if #sd.state ~= #self.params then
    argcheck.raise(string.format("%s.load_state_dict: state for %d parameters, optimizer has %d", self.name, #sd.state,
      #self.params))
  end
  local loaded = {}
  for k, v in pairs(sd.options or {}) do loaded[k] = v end
  local opts = self._decl:check(loaded, 1, self.name .. ".load_state_dict")
  for i, s in ipairs(sd.state) do
    if type(s) ~= "table" or (s.step ~= nil and math.type(s.step) ~= "integer") then
      argcheck.raise(string.format("%s.load_state_dict: state %d is not a table with an integer step", self.name, i))
    end
    for k, v in pairs(s) do
      if T.is_tensor(v) and v:numel() ~= self.params[i]:numel() then
        argcheck.raise(string.format("%s.load_state_dict: %s of parameter %d has %d elements, expected %d", self.name, k, i,
          v:numel(), self.params[i]:numel()))
      end
    end
  end
  for i, s in ipairs(sd.state) do
    local c = {}
    for k, v in pairs(s) do c[k] = T.is_tensor(v) and v:clone():reshape(self.params[i]:size()) or v end
    self.state[i] = c
  end
  for k in pairs(sd.options or {}) do self[k] = opts[k] end
end

-- SGD(params, {lr, momentum = 0, dampening = 0, nesterov = false, weight_decay = 0})
local SGD = setmetatable({}, { __index = Optimizer })
SGD.__index = SGD
local SGD_OPTS = argcheck.options("optim.SGD", {
  lr = { 1e-3, min = 0 }, momentum = { 0.0, min = 0 }, dampening = { 0.0 }, nesterov = { false },
  weight_decay = { 0.0, min = 0 },
})
function optim.SGD(params, o)
  local self = new(SGD, SGD_OPTS, params, o)
  if self.nesterov and (self.momentum <= 0 or self.dampening ~= 0) then
    argcheck.raise("SGD: nesterov needs momentum > 0 and dampening = 0")
  end
  return self
end
function SGD:update(p, g, s)
  local first = false
  if self.momentum ~= 0 and not s.momentum_buffer then s.momentum_buffer = zeros_like(p); first = true end
  C.sgd_step(p, g, s.momentum_buffer, self, first)
end

-- Adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, amsgrad = false})
local Adam = setmetatable({}, { __index = Optimizer })
Adam.__index = Adam
local ADAM_OPTS = argcheck.options("optim.Adam", {
  lr = { 1e-3, min = 0 }, betas = { { 0.9, 0.999 }, kind = "numbers", n = 2, min = 0, below = 1 },
  eps = { 1e-8, min = 0 }, weight_decay = { 0.0, min = 0 }, amsgrad = { false },
})
function optim.Adam(params, o)
  local self = new(Adam, ADAM_OPTS, params, o)
  self.betas = { self.betas[1], self.betas[2] } -- a copy: the caller's table stays theirs
  return self
end
function Adam:prepare() -- read at each step: a scheduler may have changed lr
  self._step_opts = { lr = self.lr, beta1 = self.betas[1], beta2 = self.betas[2], eps = self.eps,
                      weight_decay = self.weight_decay }
end
function Adam:update(p, g, s)
  if not s.exp_avg then
    s.exp_avg, s.exp_avg_sq = zeros_like(p), zeros_like(p)
    if self.amsgrad then s.max_exp_avg_sq = zeros_like(p) end
  end
  C.adam_step(p, g, s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq, self._step_opts, s.step)
end

-- RMSprop(params, {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false})
local RMSprop = setmetatable({}, { __index = Optimizer })
RMSprop.__index = RMSprop
local RMSPROP_OPTS = argcheck.options("optim.RMSprop", {
  lr = { 1e-2, min = 0 }, alpha = { 0.99, min = 0 }, eps = { 1e-8, min = 0 }, weight_decay = { 0.0, min = 0 },
  momentum = { 0.0, min = 0 }, centered = { false },
})
function optim.RMSprop(params, o) return new(RMSprop, RMSPROP_OPTS, params, o) end
function RMSprop:update(p, g, s)
  if not s.square_avg then
    s.square_avg = zeros_like(p)
    if self.momentum > 0 then s.momentum_buffer = zeros_like(p) end
    if self.centered then s.grad_avg = zeros_like(p) end
  end
  C.rmsprop_step(p, g, s.square_avg, s.momentum_buffer, s.grad_avg, self)
end

-- WGAN's weight clipping: clamp the weights and biases of Linear and
-- convolution layers to [-c, c], leaving normalisation layers' scale and
-- shift alone (clamping a BatchNorm scale to 0.01 would cripple it).
local clipped = { Linear = true, Conv2d = true, ConvTranspose2d = true, MinibatchDiscrimination = true }
function optim.clip_weights(model, c)
  argcheck.module("clip_weights", 1, model, "model")
  if type(c) ~= "number" or not (c > 0) then argcheck.raise("clip_weights: c must be a positive number") end
  A.no_grad(function()
    for _, m in ipairs(model:modules()) do
      if clipped[m.__name] then
        for _, k in ipairs(m._params) do m[k]:clamp_(-c, c) end
      end
    end
  end)
end

------------------------------------------------------------ schedulers

-- optim.lr_scheduler.StepLR(opt, step_size [, gamma = 0.1]),
-- ExponentialLR(opt, gamma), CosineAnnealingLR(opt, T_max [, eta_min = 0]),
-- LambdaLR(opt, lr_lambda): PyTorch's schedules, set on opt.lr by
-- sched:step() (once per epoch, after the optimizer's steps, as in
-- PyTorch). Each is computed in closed form from the epoch count and the
-- optimizer's lr when the scheduler was made (PyTorch's initial_lr);
-- get_last_lr() is {lr}. state_dict()/load_state_dict() hold last_epoch
-- and base_lrs, and ckpt.save/ckpt.load store a scheduler like any other
-- object with a state (LambdaLR's function is not saved, as PyTorch's
-- is not).
local lr_scheduler = {}
optim.lr_scheduler = lr_scheduler
local Scheduler = {}
Scheduler.__index = Scheduler

Scheduler.__tostring = function(self)
  return string.format("%s(last_epoch=%d, lr=%g)", self.__name, self.last_epoch, self.optimizer.lr)
end
local function is_optimizer(v) return type(v) == "table" and getmetatable(v) and v.params and v.state and v.step and v.lr end

local function scheduler(name, args, spec, lr_at)
  local decl = argcheck.options("optim.lr_scheduler." .. name, spec)
  local cls = setmetatable({ __name = name }, { __index = Scheduler })
  cls.__index = cls
  cls.__tostring = Scheduler.__tostring
  cls.lr_at = lr_at
  lr_scheduler[name] = function(opt, ...)
    local fn = "optim.lr_scheduler." .. name
    if not is_optimizer(opt) then argcheck.fail(fn, 1, "optimizer", "an optimizer (optim.Adam, ...)", opt) end
    local n, a = select("#", ...), { ... }
    local o = {}
    if n > 0 and type(a[n]) == "table" then
      for k, v in pairs(a[n]) do o[k] = v end
      n = n - 1
    end
    if n > #args then argcheck.raise(string.format("%s: takes at most %d arguments after the optimizer, got %d", fn, #args, n)) end
    for i = 1, n do
      if o[args[i]] ~= nil then argcheck.raise(string.format("%s: %s given both as argument %d and as an option", fn, args[i], i + 1)) end
      o[args[i]] = a[i]
    end
    o = decl:check(o, n + 2)
    local self = setmetatable({ optimizer = opt, last_epoch = 0, base_lrs = { opt.lr } }, cls)
    for k, v in pairs(o) do self[k] = v end
    self._keys = decl.keys
    opt.lr = self:lr_at(0)
    return self
  end
  return cls
end

function Scheduler:step()
  self.last_epoch = self.last_epoch + 1
  self.optimizer.lr = self:lr_at(self.last_epoch)
end
function Scheduler:get_last_lr() return { self.optimizer.lr } end
function Scheduler:state_dict()
  local sd = { last_epoch = self.last_epoch, base_lrs = { self.base_lrs[1] } }
  for _, k in ipairs(self._keys) do if type(self[k]) ~= "function" then sd[k] = self[k] end end
  return sd
end
function Scheduler:load_state_dict(sd)
  local fn = self.__name .. ".load_state_dict"
  if type(sd) ~= "table" or math.type(sd.last_epoch) ~= "integer" or type(sd.base_lrs) ~= "table" or type(sd.base_lrs[1]) ~= "number" then
    argcheck.raise(fn .. ": not a scheduler state (needs an integer last_epoch and base_lrs)")
  end
  for _, k in ipairs(self._keys) do
    if sd[k] ~= nil and type(self[k]) ~= "function" then
      if type(sd[k]) ~= type(self[k]) then argcheck.raise(string.format("%s: %s is %s, expected %s", fn, k, type(sd[k]), type(self[k]))) end
      self[k] = sd[k]
    end
  end
  self.last_epoch, self.base_lrs = sd.last_epoch, { sd.base_lrs[1] }
  self.optimizer.lr = self:lr_at(self.last_epoch)
end

scheduler("StepLR", { "step_size", "gamma" }, { step_size = { nil, kind = "integer", min = 1 }, gamma = { 0.1, min = 0 } },
  function(self, e)
    if not self.step_size then argcheck.raise("optim.lr_scheduler.StepLR: step_size is required") end
    return self.base_lrs[1] * self.gamma ^ (e // self.step_size)
  end)
scheduler("ExponentialLR", { "gamma" }, { gamma = { nil, kind = "number", min = 0 } },
  function(self, e)
    if not self.gamma then argcheck.raise("optim.lr_scheduler.ExponentialLR: gamma is required") end
    return self.base_lrs[1] * self.gamma ^ e
  end)
scheduler("CosineAnnealingLR", { "T_max", "eta_min" }, { T_max = { nil, kind = "integer", min = 1 }, eta_min = { 0.0, min = 0 } },
  function(self, e)
    if not self.T_max then argcheck.raise("optim.lr_scheduler.CosineAnnealingLR: T_max is required") end
    return self.eta_min + (self.base_lrs[1] - self.eta_min) * (1 + math.cos(math.pi * e / self.T_max)) / 2
  end)
scheduler("LambdaLR", { "lr_lambda" }, { lr_lambda = { nil, kind = "function" } },
  function(self, e)
    if not self.lr_lambda then argcheck.raise("optim.lr_scheduler.LambdaLR: lr_lambda is required") end
    local f = self.lr_lambda(e)
    if type(f) ~= "number" then
      argcheck.raise(string.format("optim.lr_scheduler.LambdaLR: lr_lambda(%d) returned %s, expected a number", e, argcheck.typename(f)))
    end
    return self.base_lrs[1] * f
  end)

------------------------------------------------------------ EMA of weights

-- optim.EMA(model [, {decay = 0.999}]): an exponential moving average of
-- a model's weights, what most GAN papers evaluate (PyTorch's
-- AveragedModel with get_ema_multi_avg_fn). ema.module is a copy of the
-- model; ema:update() (after each optimizer step) sets each of its
-- parameters to decay * itself + (1 - decay) * the model's and copies the
-- model's buffers (BatchNorm's running statistics). ema(z) and
-- ema:infer(z) run the copy. A module itself, so ckpt.save stores it as
-- "ema.module.0.weight", ... with its n_averaged count.
local nn = require "ganlua.nn"
local EMA = nn.Module:extend("EMA")
optim.EMA = EMA
local EMA_OPTS = argcheck.options("optim.EMA", { decay = { 0.999, min = 0, max = 1 } })
function EMA:init(model, o)
  argcheck.module("optim.EMA", 1, model, "model")
  o = EMA_OPTS:check(o, 2)
  self.decay = o.decay
  self.module = model:deepcopy()
  for _, p in ipairs(self.module:parameters()) do p:requires_grad(false) end
  rawset(self, "_source", model) -- not a child: its parameters are the model's, not the average's
  self:register_buffer("n_averaged", T.zeros({}))
end
function EMA:update(model)
  model = model or self._source
  argcheck.module("EMA:update", 1, model, "model")
  local mine, theirs = self.module:named_parameters(), model:named_parameters()
  if #mine ~= #theirs then
    argcheck.raise(string.format("EMA:update: the model has %d parameters, the average %d", #theirs, #mine))
  end
  local d = self.decay
  A.no_grad(function()
    for i, kv in ipairs(mine) do
      local p, q = kv[2], theirs[i][2]
      if kv[1] ~= theirs[i][1] or p:numel() ~= q:numel() then
        argcheck.raise(string.format("EMA:update: parameter %d is %s in the average and %s in the model", i, kv[1], theirs[i][1]))
      end
      p:mul_(d):add_(q, 1 - d)
    end
    local bm, bt = self.module:named_buffers(), model:named_buffers()
    for i, kv in ipairs(bm) do if bt[i] then kv[2]:copy_(bt[i][2]) end end
    self.n_averaged:add_(1)
  end)
end
function EMA:forward(...) return self.module(...) end
function EMA:extra_repr() return string.format("decay=%g", self.decay) end

return optim
