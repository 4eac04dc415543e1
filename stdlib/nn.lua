-- ganlua.nn: modules (layers) as thin Lua classes over the fused C ops.
--
-- Parameters keep PyTorch's names and layouts (Linear weight is out x in,
-- Conv2d out x in x kh x kw, ConvTranspose2d in x out x kh x kw) and
-- state-dict names ("0.weight", "body.2.bias"), so a checkpoint maps onto
-- the same PyTorch architecture. Defaults (initialisation, eps, momentum)
-- are PyTorch's.
--
-- A user module:
--   local Critic = nn.Module:extend("Critic")
--   function Critic:init(h) self.body = nn.Sequential{ nn.Linear(2, h), nn.ReLU() }
--                           self.head = nn.Linear(h, 1) end
--   function Critic:forward(x) return self.head(self.body(x)) end
--   local D = Critic(128)
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local T, C, A = core.tensor, core.nn, core.autograd

local nn = {}

----------------------------------------------------------------- Module

local Module = { __name = "Module" }
nn.Module = Module

local metamethods = { "__call", "__tostring", "__index", "__newindex", "__len" }

-- Subclass: Name = Parent:extend("Name"); instances by Name(...), which
-- calls init(...). Metamethods are copied, since Lua does not inherit them.
function Module:extend(name)
  local cls = { __name = name or "Module", super = self }
  for _, k in ipairs(metamethods) do cls[k] = rawget(self, k) end
  cls.__index = cls
  return setmetatable(cls, {
    __index = self,
    __call = function(c, ...)
      local obj = setmetatable({ _params = {}, _buffers = {}, _children = {}, training = true }, c)
      if obj.init then obj:init(...) end
      return obj
    end,
    __tostring = function(c) return "class " .. c.__name end,
  })
end

-- Assigning a module or a parameter to a new field registers it, as in
-- PyTorch: self.fc = nn.Linear(...) makes "fc.weight" a parameter.
function Module.__newindex(self, k, v)
  if type(v) == "table" and rawget(v, "_children") and rawget(v, "_params") then
    self._children[#self._children + 1] = k
  elseif T.is_tensor(v) and v:is_requires_grad() and v.is_leaf then
    self._params[#self._params + 1] = k
  end
  rawset(self, k, v)
end

Module.__index = Module

function Module.__call(self, ...) return self:forward(...) end

function Module:forward()
  argcheck.raise(self.__name .. ": forward is not defined")
end

-- a new parameter, buffer or child's name (fn's argument 1): a non-empty
-- string without dots that is not already some other attribute (is(cur)
-- tells whether the current value may be replaced)
local function check_name(fn, self, name, is)
  argcheck.string(fn, 1, name, "name")
  if name == "" or name:find(".", 1, true) then
    argcheck.raise(string.format("%s: name must be non-empty and without dots, got \"%s\"", fn, name))
  end
  local cur = rawget(self, name)
  if (cur == nil and self[name] ~= nil) or (cur ~= nil and not is(cur)) then
    argcheck.raise(string.format("%s: attribute '%s' already exists", fn, name))
  end
end

function Module:register_buffer(name, t)
  check_name("register_buffer", self, name, T.is_tensor)
  if t ~= nil then argcheck.tensor("register_buffer", 2, t, "tensor") end
  self._buffers[#self._buffers + 1] = name
  rawset(self, name, t)
end

function Module:register_parameter(name, t)
  check_name("register_parameter", self, name, T.is_tensor)
  if t ~= nil then argcheck.tensor("register_parameter", 2, t, "tensor") end
  self._params[#self._params + 1] = name
  rawset(self, name, t)
end

function Module:add_module(name, m)
  check_name("add_module", self, name, argcheck.is_module); argcheck.module("add_module", 2, m, "module")
  self._children[#self._children + 1] = name
  rawset(self, name, m)
  return m
end

function Module:named_children()
  local out = {}
  for _, k in ipairs(self._children) do
    if argcheck.is_module(rawget(self, k)) then out[#out + 1] = { k, rawget(self, k) } end
  end
  return out
end

function Module:children()
  local out = {}
  for _, kv in ipairs(self:named_children()) do out[#out + 1] = kv[2] end
  return out
end

local function walk(m, prefix, fn)
  fn(prefix, m)
  for _, kv in ipairs(m:named_children()) do walk(kv[2], prefix .. kv[1] .. ".", fn) end
end

function Module:modules()
  local out = {}
  walk(self, "", function(_, m) out[#out + 1] = m end)
  return out
end

-- {{"0.weight", W}, {"0.bias", b}, ...}: own parameters first, then each
-- child's, in registration order (PyTorch's order).
function Module:named_parameters()
  local out, seen = {}, {}
  walk(self, "", function(prefix, m)
    for _, k in ipairs(m._params) do
      local p = m[k]
      if T.is_tensor(p) and not seen[p] then seen[p] = true; out[#out + 1] = { prefix .. k, p } end
    end
  end)
  return out
end

function Module:parameters()
  local out = {}
  for _, kv in ipairs(self:named_parameters()) do out[#out + 1] = kv[2] end
  return out
end

function Module:named_buffers()
  local out = {}
  walk(self, "", function(prefix, m)
    for _, k in ipairs(m._buffers) do
      if T.is_tensor(m[k]) then out[#out + 1] = { prefix .. k, m[k] } end
    end
  end)
  return out
end

function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

-- name -> tensor (the live tensors, as PyTorch's state_dict returns them),
-- plus an ordered list of names in `keys`.
function Module:state_dict()
  local sd, keys = {}, {}
  for _, kv in ipairs(self:named_parameters()) do sd[kv[1]] = kv[2]; keys[#keys + 1] = kv[1] end
  for _, kv in ipairs(self:named_buffers()) do sd[kv[1]] = kv[2]; keys[#keys + 1] = kv[1] end
  return setmetatable(sd, { __index = { keys = function() return keys end } })
end

local function shape_str(t) return table.concat(t:size(), "x") end

-- Copies values in place. strict (default): missing, unexpected or
-- mis-shaped entries are an error that lists them; with strict = false
-- they are skipped and returned as missing, unexpected.
function Module:load_state_dict(sd, strict)
  if type(sd) ~= "table" then argcheck.fail("load_state_dict", 1, "state_dict", "a table of name = Tensor", sd) end
  if strict == nil then strict = true end
  local own = {}
  for _, kv in ipairs(self:named_parameters()) do own[kv[1]] = kv[2] end
  for _, kv in ipairs(self:named_buffers()) do own[kv[1]] = kv[2] end
  local missing, unexpected, mismatched = {}, {}, {}
  for k, t in pairs(own) do
    local v = sd[k]
    if v == nil then missing[#missing + 1] = k
    elseif not T.is_tensor(v) or v:numel() ~= t:numel() or shape_str(v) ~= shape_str(t) then
      mismatched[#mismatched + 1] = string.format("%s (expected %s, got %s)", k, shape_str(t),
        T.is_tensor(v) and shape_str(v) or type(v))
    end
  end
  for k in pairs(sd) do if type(k) == "string" and own[k] == nil then unexpected[#unexpected + 1] = k end end
  table.sort(missing); table.sort(unexpected); table.sort(mismatched)
  if strict and (#missing > 0 or #unexpected > 0 or #mismatched > 0) then
    local parts = {}
    if #missing > 0 then parts[#parts + 1] = "missing keys: " .. table.concat(missing, ", ") end
    if #unexpected > 0 then parts[#parts + 1] = "unexpected keys: " .. table.concat(unexpected, ", ") end
    if #mismatched > 0 then parts[#parts + 1] = "size mismatch: " .. table.concat(mismatched, ", ") end
    argcheck.raise(string.format("load_state_dict (%s): %s", self.__name, table.concat(parts, "; ")))
  end
  A.no_grad(function()
    for k, t in pairs(own) do
      local v = sd[k]
      if T.is_tensor(v) and shape_str(v) == shape_str(t) then t:copy_(v) end
    end
  end)
  return missing, unexpected
end

function Module:train(mode)
  if mode == nil then mode = true end
  for _, m in ipairs(self:modules()) do rawset(m, "training", mode) end
  return self
end

function Module:eval() return self:train(false) end

-- infer(...) -> self(...) in eval mode without recording, the module's
-- mode restored afterwards (also when it raises): PyTorch's
--   with torch.no_grad(): G.eval(); x = G(z); G.train()
function Module:infer(...)
  local was = self.training
  self:train(false)
  local r = table.pack(pcall(A.no_grad, self.forward, self, ...))
  self:train(was)
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

function Module:zero_grad()
  for _, p in ipairs(self:parameters()) do p.grad = nil end
end

function Module:apply(fn)
  argcheck.callable("apply", 1, fn, "fn")
  for _, m in ipairs(self:modules()) do fn(m) end
  return self
end

function Module:extra_repr() return "" end

function Module.__tostring(self)
  local kids = self:named_children()
  if #kids == 0 then return self.__name .. "(" .. self:extra_repr() .. ")" end
  local lines = { self.__name .. "(" }
  -- children by name, as PyTorch prints them; in the list containers
  -- (Sequential, ModuleList) also by position, since seq[1] is "(0)"
  local positional = rawget(getmetatable(self) or {}, "__len") ~= nil and self.__name ~= "ModuleDict"
  for i, kv in ipairs(kids) do
    local s = tostring(kv[2]):gsub("\n", "\n  ")
    lines[#lines + 1] = "  " .. (positional and "[" .. i .. "] " or "") .. "(" .. kv[1] .. "): " .. s
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

------------------------------------------------------------------- init

local init = {}
nn.init = init

-- fans(t [, name]) -> fan_in, fan_out
local function fans(t, name)
  local s = t:size()
  if #s < 2 then
    argcheck.raise(string.format("%s: fan in/out need a tensor with at least 2 dims, got a %d-dim one", name or "init", #s))
  end
  local rf = 1
  for i = 3, #s do rf = rf * s[i] end
  return s[2] * rf, s[1] * rf
end

local function gain_of(nonlinearity, a)
  if nonlinearity == "relu" then return math.sqrt(2) end
  if nonlinearity == "leaky_relu" then a = a or 0.01; return math.sqrt(2 / (1 + a * a)) end
  if nonlinearity == "tanh" then return 5 / 3 end
  if nonlinearity == "selu" then return 0.75 end
  return 1 -- linear, sigmoid, conv
end
function init.calculate_gain(nonlinearity, a)
  if a ~= nil and type(a) ~= "number" then argcheck.fail("nn.init.calculate_gain", 2, "a", "a number", a) end
  return gain_of(nonlinearity, a)
end

-- the checks of init.*(t, x, y): t a Tensor, x and y numbers or nil
local function init_args(name, t, x, xname, y, yname)
  argcheck.tensor(name, 1, t, "tensor")
  if x ~= nil then argcheck.number(name, 2, x, xname) end
  if y ~= nil then argcheck.number(name, 3, y, yname) end
end

-- f() without recording; a failed write (into a copy that is not a view)
-- is raised as name's
local function nograd(name, f) return (argcheck.within(name, A.no_grad, f)) end

function init.uniform_(t, a, b)
  init_args("nn.init.uniform_", t, a, "a", b, "b")
  if not ((b or 1) >= (a or 0)) then
    argcheck.raise(string.format("nn.init.uniform_: the bounds must satisfy a <= b, got a = %s, b = %s", a or 0, b or 1))
  end
  return nograd("nn.init.uniform_", function() return t:uniform_(a or 0, b or 1) end)
end
function init.normal_(t, mean, std)
  init_args("nn.init.normal_", t, mean, "mean", std, "std")
  if not ((std or 1) >= 0) then
    argcheck.raise("nn.init.normal_: argument 3 (std) must be a non-negative number, got " .. tostring(std))
  end
  return nograd("nn.init.normal_", function() return t:normal_(mean or 0, std or 1) end)
end
function init.constant_(t, v)
  init_args("nn.init.constant_", t, v, "value")
  if v == nil then argcheck.fail("nn.init.constant_", 2, "value", "a number", v) end
  return nograd("nn.init.constant_", function() return t:fill_(v) end)
end
function init.zeros_(t)
  init_args("nn.init.zeros_", t)
  return init.constant_(t, 0)
end
function init.ones_(t)
  init_args("nn.init.ones_", t)
  return init.constant_(t, 1)
end

-- gain: nil or a non-negative number
local function check_gain(name, gain)
  if gain ~= nil and not (gain >= 0) then
    argcheck.raise(string.format("%s: argument 2 (gain) must be a non-negative number, got %s", name, gain))
  end
end

function init.xavier_uniform_(t, gain)
  init_args("nn.init.xavier_uniform_", t, gain, "gain")
  check_gain("nn.init.xavier_uniform_", gain)
  local fi, fo = fans(t, "nn.init.xavier_uniform_")
  if t:numel() == 0 then return t end
  local a = (gain or 1) * math.sqrt(6 / (fi + fo))
  return init.uniform_(t, -a, a)
end

function init.xavier_normal_(t, gain)
  init_args("nn.init.xavier_normal_", t, gain, "gain")
  check_gain("nn.init.xavier_normal_", gain)
  local fi, fo = fans(t, "nn.init.xavier_normal_")
  if t:numel() == 0 then return t end
  return init.normal_(t, 0, (gain or 1) * math.sqrt(2 / (fi + fo)))
end

-- kaiming_*(t, {a = 0, mode = "fan_in", nonlinearity = "leaky_relu"});
-- errors are raised at the caller of kaiming_*
local function kaiming_opts(name)
  return argcheck.options(name, {
    a = { 0.0 }, mode = { "fan_in", choices = { "fan_in", "fan_out" } },
    nonlinearity = { "leaky_relu", choices = { "leaky_relu", "relu", "tanh", "selu", "linear", "sigmoid", "conv2d",
                                               "conv_transpose2d" } },
  })
end
local KAIMING = { ["nn.init.kaiming_uniform_"] = kaiming_opts("nn.init.kaiming_uniform_"),
                  ["nn.init.kaiming_normal_"] = kaiming_opts("nn.init.kaiming_normal_") }
local function kaiming_std(name, t, o)
  argcheck.tensor(name, 1, t, "tensor")
  o = KAIMING[name]:check(o, 2)
  local fi, fo = fans(t, name)
  local fan = o.mode == "fan_in" and fi or fo
  if fan == 0 then return 0 end -- no elements to fill
  return gain_of(o.nonlinearity, o.a) / math.sqrt(fan)
end
function init.kaiming_uniform_(t, o)
  local b = math.sqrt(3) * kaiming_std("nn.init.kaiming_uniform_", t, o)
  return init.uniform_(t, -b, b)
end
function init.kaiming_normal_(t, o) return init.normal_(t, 0, kaiming_std("nn.init.kaiming_normal_", t, o)) end

-- DCGAN's scheme for a whole model: conv/linear weights N(0, 0.02),
-- batch-norm weights N(1, 0.02), batch-norm biases 0.
function init.dcgan_(model)
  argcheck.module("nn.init.dcgan_", 1, model, "model")
  return model:apply(function(m)
    local n = m.__name
    if n == "Conv2d" or n == "ConvTranspose2d" or n == "Linear" then
      init.normal_(m.weight, 0, 0.02)
      if m.bias then init.zeros_(m.bias) end
    elseif n == "BatchNorm1d" or n == "BatchNorm2d" or n == "SyncBatchNorm" then
      if m.weight then init.normal_(m.weight, 1, 0.02); init.zeros_(m.bias) end
    end
  end)
end

-- PyTorch's default for Linear/Conv: weight kaiming_uniform(a = sqrt 5),
-- i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same bound.
local function default_init(w, b)
  local fi = fans(w)
  local bound = 1 / math.sqrt(fi)
  init.uniform_(w, -bound, bound)
  if b then init.uniform_(b, -bound, bound) end
end

----------------------------------------------------------------- layers

-- A layer's arguments after its required ones: PyTorch's positional order
-- (names), optionally followed by -- or replaced with -- an options table,
-- all checked against the layer's declaration (argcheck.options):
--   nn.Conv2d(3, 8, 4, 2, 1, 1, 1, false) == nn.Conv2d(3, 8, 4, { stride = 2, padding = 1, bias = false })
-- A table with string keys (or an empty one) is the options table; any
-- other value, {h, w} pairs included, is positional.
local function is_options(v)
  if type(v) ~= "table" or argcheck.is_module(v) then return false end
  if next(v) == nil then return true end
  for k in pairs(v) do if type(k) == "string" then return true end end
  return false
end
local function layer_args(decl, first, names, ...)
  local n, args = select("#", ...), { ... }
  local o = {}
  if n > 0 and is_options(args[n]) then
    for k, v in pairs(args[n]) do o[k] = v end
    n = n - 1
  end
  if n > #names then
    argcheck.raise(string.format("%s: takes at most %d arguments after the first %d (%s), got %d", decl.fn, #names,
      first - 1, table.concat(names, ", "), n))
  end
  for i = 1, n do
    local k = names[i]
    if args[i] ~= nil then
      if o[k] ~= nil then argcheck.raise(string.format("%s: %s given both as argument %d and as an option", decl.fn, k, first + i - 1)) end
      o[k] = args[i]
    end
  end
  return decl:check(o, first + n)
end
local function pyb(v) return v and "True" or "False" end

local function check_int(name, v, what)
  if math.type(v) ~= "integer" or v < 1 then
    argcheck.raise(string.format("%s: %s must be a positive integer, got %s", name, what,
      type(v) == "number" and tostring(v) or argcheck.typename(v)))
  end
end

-- f(...), a layer's parameter tensor: a size too large to allocate is the
-- layer's error
local function alloc(name, f, ...) return (argcheck.within(name, f, ...)) end

-- for a layer's forward(x): x must be a Tensor with at least min_dim dims
local function check_x(name, x, min_dim)
  if not T.is_tensor(x) or (min_dim and x:dim() < min_dim) then
    argcheck.raise(string.format("%s: expected a Tensor input%s, got %s", name,
      min_dim and string.format(" with at least %d dims", min_dim) or "",
      T.is_tensor(x) and table.concat(x:size(), "x") or argcheck.typename(x)))
  end
end

-- Linear(in, out [, bias] [, {bias = true}])
local Linear = Module:extend("Linear")
nn.Linear = Linear
local LINEAR_OPTS = argcheck.options("nn.Linear", { bias = { true } })
function Linear:init(nin, nout, ...)
  check_int("Linear", nin, "in_features"); check_int("Linear", nout, "out_features")
  local o = layer_args(LINEAR_OPTS, 3, { "bias" }, ...)
  self.in_features, self.out_features = nin, nout
  self:register_parameter("weight", alloc("Linear", T.empty, nout, nin):requires_grad())
  if o.bias ~= false then self:register_parameter("bias", T.empty(nout):requires_grad()) end
  default_init(self.weight, self.bias)
end
-- the shapes are judged once, by the runtime's linear ("linear: input 4x5
-- has 5 features, weight 3x2 expects 2")
function Linear:forward(x)
  if not T.is_tensor(x) or x:dim() < 1 then
    argcheck.raise("Linear: expected a Tensor input with at least 1 dim, got " ..
      (T.is_tensor(x) and "a 0-dim Tensor" or argcheck.typename(x)))
  end
  local d = x:dim()
  if d == 2 then return C.linear(x, self.weight, self.bias) end
  local s = x:size()
  local y = C.linear(x:reshape(-1, s[#s]), self.weight, self.bias)
  s[#s] = self.out_features
  return y:reshape(s)
end
function Linear:extra_repr()
  return string.format("in_features=%d, out_features=%d, bias=%s", self.in_features, self.out_features, pyb(self.bias))
end

local function pair(v) if type(v) == "table" then return v[1], v[2] end return v, v end
local function pair_str(v) local a, b = pair(v); return "(" .. a .. ", " .. b .. ")" end

-- v an integer >= min or a pair of them
local function check_pair(name, v, what, min)
  local a, b = pair(v)
  if math.type(a) ~= "integer" or math.type(b) ~= "integer" or a < min or b < min then
    argcheck.raise(string.format("%s: %s must be an integer >= %d or a pair {h, w} of them", name, what, min))
  end
end

-- the options of Conv2d and ConvTranspose2d (groups other than 1 are not
-- implemented, and say so)
local function conv_opts(name, transposed)
  local spec = {
    stride = { 1, kind = "int_pair", min = 1 }, padding = { 0, kind = "int_pair", min = 0 },
    dilation = { 1, kind = "int_pair", min = 1 }, bias = { true },
    groups = { 1, min = 1, check = function(g) if g ~= 1 then return "only groups = 1 is implemented" end end },
    padding_mode = { "zeros", choices = { "zeros" } },
  }
  if transposed then spec.output_padding = { 0, kind = "int_pair", min = 0 } end
  return argcheck.options(name, spec)
end
local CONV_OPTS, CONVT_OPTS = conv_opts("nn.Conv2d"), conv_opts("nn.ConvTranspose2d", true)
local CONV_ARGS = { "stride", "padding", "dilation", "groups", "bias", "padding_mode" }
local CONVT_ARGS = { "stride", "padding", "output_padding", "groups", "bias", "dilation", "padding_mode" }

local function check_image(name, x, channels)
  if not T.is_tensor(x) or x:dim() ~= 4 then
    argcheck.raise(string.format("%s: expected an N x C x H x W tensor, got %s", name,
      T.is_tensor(x) and table.concat(x:size(), "x") or type(x)))
  end
  if x:size(2) ~= channels then
    argcheck.raise(string.format("%s: input %s has %d channels, the layer expects %d", name,
      table.concat(x:size(), "x"), x:size(2), channels))
  end
end

-- Conv2d(in, out, kernel [, stride, padding, dilation, groups, bias]
--        [, {stride = 1, padding = 0, dilation = 1, bias = true}])
local Conv2d = Module:extend("Conv2d")
nn.Conv2d = Conv2d
function Conv2d:init(cin, cout, k, ...)
  check_int("Conv2d", cin, "in_channels"); check_int("Conv2d", cout, "out_channels")
  check_pair("Conv2d", k, "kernel_size", 1)
  local o = layer_args(CONV_OPTS, 4, CONV_ARGS, ...)
  local kh, kw = pair(k)
  self.in_channels, self.out_channels, self.kernel_size = cin, cout, { kh, kw }
  self.stride, self.padding, self.dilation = o.stride, o.padding, o.dilation
  self._opts = { stride = self.stride, padding = self.padding, dilation = self.dilation }
  self:register_parameter("weight", alloc("Conv2d", T.empty, cout, cin, kh, kw):requires_grad())
  if o.bias ~= false then self:register_parameter("bias", T.empty(cout):requires_grad()) end
  default_init(self.weight, self.bias)
end
function Conv2d:forward(x)
  check_image("Conv2d", x, self.in_channels)
  local y = C.conv2d(x, self.weight, self._opts)
  if self.bias then y = y + self.bias:view(1, self.out_channels, 1, 1) end
  return y
end
function Conv2d:extra_repr()
  local s = string.format("%d, %d, kernel_size=%s, stride=%s", self.in_channels, self.out_channels,
    pair_str(self.kernel_size), pair_str(self.stride))
  if self.padding ~= 0 then s = s .. ", padding=" .. pair_str(self.padding) end
  if self.dilation ~= 1 then s = s .. ", dilation=" .. pair_str(self.dilation) end
  if not self.bias then s = s .. ", bias=False" end
  return s
end

-- ConvTranspose2d(in, out, kernel [, stride, padding, output_padding, groups, bias, dilation]
--                 [, {stride, padding, output_padding, dilation, bias}])
local ConvT = Module:extend("ConvTranspose2d")
nn.ConvTranspose2d = ConvT
function ConvT:init(cin, cout, k, ...)
  check_int("ConvTranspose2d", cin, "in_channels"); check_int("ConvTranspose2d", cout, "out_channels")
  check_pair("ConvTranspose2d", k, "kernel_size", 1)
  local o = layer_args(CONVT_OPTS, 4, CONVT_ARGS, ...)
  local kh, kw = pair(k)
  self.in_channels, self.out_channels, self.kernel_size = cin, cout, { kh, kw }
  self.stride, self.padding, self.dilation = o.stride, o.padding, o.dilation
  self.output_padding = o.output_padding
  self._opts = { stride = self.stride, padding = self.padding, dilation = self.dilation,
                 output_padding = self.output_padding }
  self:register_parameter("weight", alloc("ConvTranspose2d", T.empty, cin, cout, kh, kw):requires_grad())
  if o.bias ~= false then self:register_parameter("bias", T.empty(cout):requires_grad()) end
  -- PyTorch computes fan_in from weight dim 2 here: out_channels * kh * kw
  default_init(self.weight, self.bias)
end
function ConvT:forward(x)
  check_image("ConvTranspose2d", x, self.in_channels)
  local y = C.conv_transpose2d(x, self.weight, self._opts)
  if self.bias then y = y + self.bias:view(1, self.out_channels, 1, 1) end
  return y
end
ConvT.extra_repr = Conv2d.extra_repr

-- BatchNorm1d(C [, {eps = 1e-5, momentum = 0.1, affine = true,
-- track_running_stats = true}]) on N x C or N x C x L; BatchNorm2d on
-- N x C x H x W. Training normalises with the batch's biased variance and
-- updates the running variance with the unbiased one, as PyTorch does.
-- SyncBatchNorm(C [, {...}]) on N x C x ...: the same, with the statistics
-- of the global batch when several ranks train one model (ganlua.dist,
-- under mpirun): each rank's per-channel count, sum, sum of squared
-- deviations from its own mean and its mean's share go through one
-- differentiable dist.sum, combined by Chan's formula (no E[x^2] - E[x]^2
-- over the whole batch); its backward sums the statistics' gradients over
-- the ranks, so N ranks at batch b train as one process at N x b with
-- BatchNorm. With one rank it is BatchNorm (one fused op).

-- the batch's mean and biased variance per channel over every rank
-- (SyncBatchNorm's training path); x is N x C x ..., c its channels
local function global_stats(x, c)
  local dist = require "ganlua.dist"
  local xt = x:transpose(1, 2):reshape(c, -1)
  local m = xt:size(2)
  local mean_r = xt:sum(2) / m
  local d = xt - mean_r:view(c, 1)
  local packed = T.cat({ mean_r * m, (d * d):sum(2), mean_r * mean_r * m, T.full({ 1 }, m) })
  local all = dist.sum(packed)
  local n = all:narrow(1, 3 * c + 1, 1)
  local mean = all:narrow(1, 1, c) / n
  local var = (all:narrow(1, c + 1, c) + all:narrow(1, 2 * c + 1, c) - mean * mean * n) / n
  return mean, var, n:item()
end

local function make_bn(name, dims, sync)
  local BN = Module:extend(name)
  -- BatchNorm(num_features [, eps, momentum, affine, track_running_stats] [, {...}])
  local decl = argcheck.options("nn." .. name, { eps = { 1e-5, min = 0 }, momentum = { 0.1, min = 0, max = 1 },
                                                 affine = { true }, track_running_stats = { true } })
  function BN:init(c, ...)
    check_int(name, c, "num_features")
    local o = layer_args(decl, 2, { "eps", "momentum", "affine", "track_running_stats" }, ...)
    self.num_features, self.eps, self.momentum = c, o.eps, o.momentum
    self.affine, self.track_running_stats = o.affine, o.track_running_stats
    if self.affine then
      self:register_parameter("weight", alloc(name, T.ones, c):requires_grad())
      self:register_parameter("bias", T.zeros(c):requires_grad())
    end
    if self.track_running_stats then
      self:register_buffer("running_mean", alloc(name, T.zeros, c))
      self:register_buffer("running_var", T.ones(c))
      self:register_buffer("num_batches_tracked", T.zeros({}))
    end
  end
  function BN:forward(x)
    local d = T.is_tensor(x) and x:dim() or 0
    if not dims[d] or x:size(2) ~= self.num_features then
      argcheck.raise(string.format("%s: expected %s with %d channels, got %s", name, dims.desc, self.num_features,
        T.is_tensor(x) and table.concat(x:size(), "x") or type(x)))
    end
    local c = self.num_features
    local bshape = { 1, c }
    for _ = 3, d do bshape[#bshape + 1] = 1 end
    if self.training or not self.track_running_stats then
      -- the batch's statistics, in one fused op (runtime/ops_norm.c)
      local n = x:numel() // c
      if n <= 1 and self.training then
        argcheck.raise(string.format("%s: expected more than 1 value per channel when training, got %s", name,
          table.concat(x:size(), "x")))
      end
      local y, mean, var
      if sync and require("ganlua.dist").size() > 1 then
        mean, var, n = global_stats(x, c)
        y = (x - mean:view(bshape)) / (var:view(bshape) + self.eps):sqrt()
        if self.affine then y = y * self.weight:view(bshape) + self.bias:view(bshape) end
        mean, var = mean:detach(), var:detach()
      else
        y, mean, var = C.batch_norm(x, self.weight, self.bias, self.eps)
      end
      if self.training and self.track_running_stats then
        local mom = self.momentum
        A.no_grad(function()
          self.num_batches_tracked:add_(1)
          if mom == nil then mom = 1 / self.num_batches_tracked:item() end
          self.running_mean:mul_(1 - mom):add_(mean, mom)
          self.running_var:mul_(1 - mom):add_(var, mom * n / (n - 1))
        end)
      end
      return y
    end
    local mean, var
    mean, var = self.running_mean:view(bshape), self.running_var:view(bshape)
    local y = (x - mean) / (var + self.eps):sqrt()
    if self.affine then y = y * self.weight:view(bshape) + self.bias:view(bshape) end
    return y
  end
  function BN:extra_repr()
    return string.format("%d, eps=%g, momentum=%s, affine=%s, track_running_stats=%s", self.num_features, self.eps,
      tostring(self.momentum), pyb(self.affine), pyb(self.track_running_stats))
  end
  return BN
end
nn.BatchNorm1d = make_bn("BatchNorm1d", { [2] = true, [3] = true, desc = "an N x C or N x C x L tensor" })
nn.BatchNorm2d = make_bn("BatchNorm2d", { [4] = true, desc = "an N x C x H x W tensor" })
nn.SyncBatchNorm = make_bn("SyncBatchNorm", { [2] = true, [3] = true, [4] = true, [5] = true,
                                              desc = "an N x C x ... tensor" }, true)

-- convert_sync_batchnorm(module) -> module with every BatchNorm1d/2d in it
-- (itself included) replaced by a SyncBatchNorm holding the same
-- parameter and buffer tensors, so optimizers made before still train
-- them (PyTorch's nn.SyncBatchNorm.convert_sync_batchnorm). Convert before
-- taking slices of a Sequential: a slice keeps the modules it was made of.
function nn.SyncBatchNorm.convert_sync_batchnorm(m)
  argcheck.module("nn.SyncBatchNorm.convert_sync_batchnorm", 1, m, "module")
  local function convert(bn)
    local s = nn.SyncBatchNorm(bn.num_features, { eps = bn.eps, momentum = bn.momentum, affine = bn.affine,
                                                  track_running_stats = bn.track_running_stats })
    for _, k in ipairs { "weight", "bias", "running_mean", "running_var", "num_batches_tracked" } do
      if rawget(bn, k) ~= nil then rawset(s, k, rawget(bn, k)) end
    end
    s.training = bn.training
    return s
  end
  local function is_bn(x) return x.__name == "BatchNorm1d" or x.__name == "BatchNorm2d" end
  if is_bn(m) then return convert(m) end
  local function walk_children(parent)
    for _, k in ipairs(parent._children) do
      local c = rawget(parent, k)
      if argcheck.is_module(c) then
        if is_bn(c) then rawset(parent, k, convert(c)) else walk_children(c) end
      end
    end
  end
  walk_children(m)
  return m
end

-- LayerNorm(shape [, {eps = 1e-5, elementwise_affine = true}]): normalises
-- over the trailing dims given by shape.
local LayerNorm = Module:extend("LayerNorm")
nn.LayerNorm = LayerNorm
local LAYERNORM_OPTS = argcheck.options("nn.LayerNorm", { eps = { 1e-5, min = 0 }, elementwise_affine = { true } })
function LayerNorm:init(shape, ...)
  local o = layer_args(LAYERNORM_OPTS, 2, { "eps", "elementwise_affine" }, ...)
  local given = shape
  if type(shape) == "number" then shape = { shape } end
  local ok = type(shape) == "table" and #shape > 0
  for i = 1, ok and #shape or 0 do ok = ok and math.type(shape[i]) == "integer" and shape[i] >= 1 end
  if not ok then
    argcheck.raise("LayerNorm: normalized_shape must be a positive integer or a list of them, got " ..
      (type(given) == "number" and tostring(given) or argcheck.typename(given)))
  end
  self.normalized_shape, self.eps = shape, o.eps
  self.elementwise_affine = o.elementwise_affine
  if self.elementwise_affine then
    self:register_parameter("weight", alloc("LayerNorm", T.ones, shape):requires_grad())
    self:register_parameter("bias", T.zeros(shape):requires_grad())
  end
end
function LayerNorm:forward(x)
  check_x("LayerNorm", x, #self.normalized_shape)
  local k, d = #self.normalized_shape, x:dim()
  for i = 1, k do
    if x:size(d - k + i) ~= self.normalized_shape[i] then
      argcheck.raise(string.format("LayerNorm: input %s does not end in %s", table.concat(x:size(), "x"),
        table.concat(self.normalized_shape, "x")))
    end
  end
  local n = 1
  for i = 1, k do n = n * self.normalized_shape[i] end
  local s = x
  for i = d, d - k + 1, -1 do s = s:sum(i, true) end
  local mean = s / n
  local dx = x - mean
  local q = dx * dx
  for i = d, d - k + 1, -1 do q = q:sum(i, true) end
  local y = dx / (q / n + self.eps):sqrt()
  if self.elementwise_affine then y = y * self.weight + self.bias end
  return y
end
function LayerNorm:extra_repr()
  return string.format("(%s,), eps=%g, elementwise_affine=%s", table.concat(self.normalized_shape, ", "), self.eps,
    pyb(self.elementwise_affine))
end

-- Dropout(p = 0.5): zeroes with probability p in training, scales by 1/(1-p)
local Dropout = Module:extend("Dropout")
nn.Dropout = Dropout
-- a dropout probability: nil (0.5) or a number in [0, 1]
local function dropout_p(name, p)
  p = p or 0.5
  if type(p) ~= "number" or not (p >= 0 and p <= 1) then
    argcheck.raise(name .. ": p must be in [0, 1], got " .. (type(p) == "number" and tostring(p) or argcheck.typename(p)))
  end
  return p
end
function Dropout:init(p) self.p = dropout_p("Dropout", p) end
function Dropout:forward(x)
  check_x("Dropout", x)
  if not self.training or self.p == 0 then return x end
  if self.p == 1 then return x * 0 end
  local keep = T.rand(x:size()):ge(self.p)
  return x * keep / (1 - self.p)
end
function Dropout:extra_repr() return string.format("p=%g, inplace=False", self.p) end

-- activations
local function activation(name, fn, repr)
  local cls = Module:extend(name)
  cls.forward = function(self, x)
    check_x(name, x)
    return fn(self, x)
  end
  if repr then cls.extra_repr = repr end
  nn[name] = cls
  return cls
end
-- PyTorch's inplace flag is accepted and has no effect (every op here makes
-- a new tensor); any other argument is refused, not dropped
local function inplace_arg(name, v, pos)
  if v ~= nil and type(v) ~= "boolean" then
    argcheck.raise(string.format("%s: argument %d (inplace) must be a boolean, got %s", name, pos, argcheck.typename(v)))
  end
end
local function no_args(name)
  return function(_, ...)
    if select("#", ...) > 0 then argcheck.raise(name .. ": takes no arguments, got " .. select("#", ...)) end
  end
end
local ReLU = activation("ReLU", function(_, x) return x:relu() end)
function ReLU:init(inplace, ...)
  inplace_arg("ReLU", inplace, 1)
  if select("#", ...) > 0 then argcheck.raise("ReLU: takes at most 1 argument (inplace)") end
end
nn.Tanh = activation("Tanh", function(_, x) return x:tanh() end)
nn.Tanh.init = no_args("Tanh")
nn.Sigmoid = activation("Sigmoid", function(_, x) return x:sigmoid() end)
nn.Sigmoid.init = no_args("Sigmoid")
local LeakyReLU = activation("LeakyReLU", function(self, x) return x:leaky_relu(self.negative_slope) end,
  function(self) return "negative_slope=" .. self.negative_slope end)
function LeakyReLU:init(slope, inplace, ...)
  if slope ~= nil and type(slope) ~= "number" then
    argcheck.raise("LeakyReLU: negative_slope must be a number, got " .. argcheck.typename(slope))
  end
  inplace_arg("LeakyReLU", inplace, 2)
  if select("#", ...) > 0 then argcheck.raise("LeakyReLU: takes at most 2 arguments (negative_slope, inplace)") end
  self.negative_slope = slope or 0.01
end
local Softplus = activation("Softplus", function(self, x) return x:softplus(self.beta, self.threshold) end,
  function(self) return string.format("beta=%g, threshold=%g", self.beta, self.threshold) end)
function Softplus:init(beta, threshold)
  if (beta ~= nil and type(beta) ~= "number") or (threshold ~= nil and type(threshold) ~= "number") then
    argcheck.raise("Softplus: beta and threshold must be numbers")
  end
  self.beta, self.threshold = beta or 1, threshold or 20
end
-- Identity: anything passes through
local Identity = Module:extend("Identity")
nn.Identity = Identity
function Identity:forward(x) return x end

-- Flatten(start_dim = 2, end_dim = -1): dims are 1-based, so PyTorch's
-- default Flatten() (start_dim=1, 0-based) is Flatten(2) here
local Flatten = Module:extend("Flatten")
nn.Flatten = Flatten
function Flatten:init(s, e)
  s, e = s or 2, e or -1
  if math.type(s) ~= "integer" or math.type(e) ~= "integer" or s == 0 or e == 0 then
    argcheck.raise("Flatten: start_dim and end_dim must be non-zero integers (dims are 1-based)")
  end
  self.start_dim, self.end_dim = s, e
end
function Flatten:forward(x)
  check_x("Flatten", x)
  local d = x:dim()
  local s = self.start_dim < 0 and d + self.start_dim + 1 or self.start_dim
  local e = self.end_dim < 0 and d + self.end_dim + 1 or self.end_dim
  if s < 1 or e > d or s > e then
    argcheck.raise(string.format("Flatten: dims %d..%d do not fit a %s input", self.start_dim, self.end_dim,
      table.concat(x:size(), "x")))
  end
  return x:flatten(self.start_dim, self.end_dim)
end
function Flatten:extra_repr() return string.format("start_dim=%d, end_dim=%d", self.start_dim, self.end_dim) end

-- Reshape(...): x:reshape(N, ...) keeping the batch dim
local Reshape = Module:extend("Reshape")
nn.Reshape = Reshape
function Reshape:init(...)
  local shape = type((...)) == "table" and ... or { ... }
  for i = 1, #shape do
    if math.type(shape[i]) ~= "integer" then
      argcheck.raise(string.format("Reshape: size %d must be an integer, got %s", i, argcheck.typename(shape[i])))
    end
  end
  self.shape = shape
end
function Reshape:forward(x)
  check_x("Reshape", x, 1)
  local s = { x:size(1) }
  for i, v in ipairs(self.shape) do s[i + 1] = v end
  return (x.reshape(x, s))
end
function Reshape:extra_repr() return table.concat(self.shape, ", ") end

-- Embedding(num, dim): rows of a N(0, 1) table, looked up by 1-based index
local Embedding = Module:extend("Embedding")
nn.Embedding = Embedding
function Embedding:init(num, dim)
  check_int("Embedding", num, "num_embeddings"); check_int("Embedding", dim, "embedding_dim")
  self.num_embeddings, self.embedding_dim = num, dim
  self:register_parameter("weight", alloc("Embedding", T.randn, num, dim):requires_grad())
end
function Embedding:forward(idx)
  if type(idx) == "table" or type(idx) == "number" then idx = T.from(idx) end
  if not T.is_tensor(idx) then
    argcheck.raise("Embedding: expected indices (a Tensor, a table or a number), got " .. argcheck.typename(idx))
  end
  local s = idx:size()
  -- the indices are judged once, by index_select
  local rows = argcheck.within("Embedding", self.weight.index_select, self.weight, 1, idx:reshape(-1))
  s[#s + 1] = self.embedding_dim
  return rows:reshape(s)
end
function Embedding:extra_repr() return self.num_embeddings .. ", " .. self.embedding_dim end

-- MinibatchDiscrimination(in_features, B, C [, opts]) (Salimans et al.
-- 2016, "Improved Techniques for Training GANs", sec. 3.2), following the
-- authors' released code: openai/improved-gan, mnist_svhn_cifar10/nn.py,
-- class MinibatchLayer. With x: N x in_features,
--   W[a][b][c] = weight[a][b][c] * exp(log_weight_scale[b][c]) / ||weight[:, b, c]||_2
--   M = x W (N x B x C),  o[i][b] = sum_{j != i} exp(-||M[i][b] - M[j][b]||_1) + bias[b]
-- and the output is [x, o]: N x (in_features + B). As released: weight ~
-- N(0, 0.05) (its scale cancels in the normalisation), log_weight_scale 0,
-- bias -1, and the self pair left out (the code adds 1e6 to the diagonal
-- distance). m:data_init(x) is the released code's data-based
-- initialisation (its init=True pass, run once on a batch of real data
-- before training).
-- opts:
--   init = "original" (the above) | "normal" (T ~ N(0, 1), the common PyTorch
--          port) | "xavier" (T ~ U(+-sqrt(6 / (in + B C))))
--   weight_norm, bias: default true for "original", false otherwise (the
--          port has neither); include_self: default false (the port's
--          sum runs over every j, i included: {init = "normal", include_self = true}).
-- A Chainer port that multiplies by a Linear(in, B C) and reshapes forms
-- the same product x T (T its weight, transposed), with that layer's
-- bias and Chainer's initialisation and no normalisation; the default
-- here is the released Lasagne layer, not that port.
local MBD = Module:extend("MinibatchDiscrimination")
nn.MinibatchDiscrimination = MBD
local MBD_OPTS = argcheck.options("nn.MinibatchDiscrimination", {
  init = { "original", choices = { "original", "normal", "xavier" } },
  weight_norm = { nil, kind = "boolean" }, bias = { nil, kind = "boolean" }, include_self = { false },
})
function MBD:init(nin, B, Cdim, o)
  check_int("MinibatchDiscrimination", nin, "in_features")
  check_int("MinibatchDiscrimination", B, "out_features (B)")
  check_int("MinibatchDiscrimination", Cdim, "kernel_dims (C)")
  o = MBD_OPTS:check(o, 4)
  local how = o.init
  local function flag(k, def) if o[k] == nil then return def end return o[k] end
  self.in_features, self.out_features, self.kernel_dims = nin, B, Cdim
  self.init_scheme = how
  self.weight_norm = flag("weight_norm", how == "original")
  self.include_self = flag("include_self", false)
  local w = alloc("MinibatchDiscrimination", T.empty, nin, B, Cdim)
  if how == "original" then
    init.normal_(w, 0, 0.05)
  elseif how == "normal" then
    init.normal_(w, 0, 1)
  else
    local bound = math.sqrt(6 / (nin + B * Cdim))
    init.uniform_(w, -bound, bound)
  end
  self:register_parameter("weight", w:requires_grad())
  if self.weight_norm then
    self:register_parameter("log_weight_scale", T.zeros(B, Cdim):requires_grad())
  end
  if flag("bias", how == "original") then self:register_parameter("bias", T.full({ B }, -1):requires_grad()) end
end
-- the in x B x C matrix the features are multiplied by
function MBD:kernel()
  if not self.weight_norm then return self.weight end
  return C.weight_norm(self.weight, self.log_weight_scale:exp())  -- fused: per (kernel, dim) column
end
function MBD:forward(x)
  if not T.is_tensor(x) or x:dim() ~= 2 or x:size(2) ~= self.in_features then
    argcheck.raise(string.format("MinibatchDiscrimination: expected N x %d input, got %s", self.in_features,
      T.is_tensor(x) and table.concat(x:size(), "x") or type(x)))
  end
  local n, B, Cd = x:size(1), self.out_features, self.kernel_dims
  local M = x:matmul(self:kernel():reshape(self.in_features, B * Cd)):reshape(n, B, Cd)
  local o = C.minibatch_disc(M, self.include_self)             -- fused: no N x N x B x C tensor
  if self.bias then o = o + self.bias end
  return T.cat({ x, o }, 2)
end
-- m:data_init(x): the released code's data-based initialisation on a batch
-- x (N x in_features, N >= 2): per kernel b, with mm_b half the mean over i
-- of the distance to i's nearest other sample, log_weight_scale[b] -=
-- log(mm_b) (so that mean nearest distance becomes 2), then bias = -(the
-- batch mean of the pair sum), so o starts centred. Needs weight_norm (the
-- log-scale) and a bias. Returns the module.
function MBD:data_init(x)
  if not self.weight_norm or not self.bias then
    argcheck.raise("MinibatchDiscrimination:data_init needs weight_norm and bias (init = \"original\")")
  end
  if not T.is_tensor(x) or x:dim() ~= 2 or x:size(2) ~= self.in_features or x:size(1) < 2 then
    argcheck.raise(string.format("MinibatchDiscrimination:data_init: expected N x %d input with N >= 2, got %s", self.in_features,
      T.is_tensor(x) and table.concat(x:size(), "x") or argcheck.typename(x)))
  end
  A.no_grad(function()
    local n, B, Cd = x:size(1), self.out_features, self.kernel_dims
    local M = x:matmul(self:kernel():reshape(self.in_features, B * Cd)):reshape(n, B, Cd)
    local d = (M:reshape(n, 1, B, Cd) - M:reshape(1, n, B, Cd)):abs():sum(4)      -- n x n x B
    d = d + T.eye(n):reshape(n, n, 1) * 1e6
    local mm = d:min(2):mean(1) * 0.5                                              -- B
    self.log_weight_scale:sub_(mm:log():reshape(B, 1))
    M = x:matmul(self:kernel():reshape(self.in_features, B * Cd)):reshape(n, B, Cd)
    self.bias:copy_(-C.minibatch_disc(M, self.include_self):mean(1))
  end)
  return self
end
function MBD:extra_repr()
  return string.format("in_features=%d, out_features=%d, kernel_dims=%d, init=%s%s", self.in_features,
    self.out_features, self.kernel_dims, self.init_scheme, self.include_self and ", include_self=True" or "")
end

-------------------------------------------------------------------- utils

nn.utils = {}

-- spectral_norm(module [, {name = "weight", n_power_iterations = 1, eps = 1e-12}])
-- (Miyato et al. 2018): the weight is divided by its largest singular
-- value, estimated by power iteration on buffers u, v that persist across
-- steps. Like PyTorch, the parameter becomes <name>_orig and the buffers
-- <name>_u, <name>_v; ConvTranspose2d is normalised over its dim 2.
local SPECTRAL_OPTS = argcheck.options("nn.utils.spectral_norm", {
  name = { "weight" }, n_power_iterations = { 1, min = 1 }, eps = { 1e-12, positive = true },
})
function nn.utils.spectral_norm(m, o)
  argcheck.module("nn.utils.spectral_norm", 1, m, "module")
  o = SPECTRAL_OPTS:check(o, 2)
  local name, iters, eps = o.name, o.n_power_iterations, o.eps
  local w = rawget(m, name)
  if not T.is_tensor(w) then argcheck.raise("spectral_norm: module has no parameter '" .. name .. "'") end
  local transposed = m.__name == "ConvTranspose2d"
  local function as_matrix(t)
    if transposed then t = t:transpose(1, 2) end
    return t:reshape(t:size(1), -1)
  end
  local wm = as_matrix(w)
  local function normalize(v) return v / (v:norm() + eps) end
  local u = normalize(T.randn(wm:size(1)))
  local v = normalize(T.randn(wm:size(2)))
  -- rename the parameter, register the buffers
  for i, k in ipairs(m._params) do if k == name then m._params[i] = name .. "_orig" end end
  rawset(m, name .. "_orig", w)
  m:register_buffer(name .. "_u", u)
  m:register_buffer(name .. "_v", v)
  local inner = m.forward
  rawset(m, "forward", function(self, ...)
    local W = rawget(self, name .. "_orig")
    local Wm = as_matrix(W)
    local uu, vv = rawget(self, name .. "_u"), rawget(self, name .. "_v")
    if self.training then
      A.no_grad(function()
        for _ = 1, iters do
          vv:copy_(normalize(Wm:t():matmul(uu)))
          uu:copy_(normalize(Wm:matmul(vv)))
        end
      end)
    end
    local sigma = uu:matmul(Wm:matmul(vv))
    rawset(self, name, W / sigma)
    return inner(self, ...)
  end)
  rawset(m, name, w)
  return m
end

------------------------------------------------- pooling, resizing, padding
-- What a ported PyTorch script reaches for beyond the GAN layers, each
-- composed of differentiable ops (so gradients of every order exist) with
-- PyTorch's names, defaults and N x C x H x W layout.

local F = {}
nn.functional = F

-- an image-like input: N x C x H x W (or C x H x W where allow3)
local function check_nchw(name, x, allow3)
  local d = T.is_tensor(x) and x:dim() or 0
  if d ~= 4 and not (allow3 and d == 3) then
    argcheck.raise(string.format("%s: expected an N x C x H x W tensor%s, got %s", name, allow3 and " (or C x H x W)" or "",
      T.is_tensor(x) and table.concat(x:size(), "x") or argcheck.typename(x)))
  end
end

-- x with the last two dims padded by a constant: l, r on W, t, b on H
local function pad_hw(x, l, r, t, b, value)
  local s = x:size()
  local d = #s
  local function strip(dim, n)
    local sz = {}
    for i = 1, d do sz[i] = s[i] end
    sz[dim] = n
    return T.full(sz, value)
  end
  if l > 0 or r > 0 then
    local parts = {}
    if l > 0 then parts[#parts + 1] = strip(d, l) end
    parts[#parts + 1] = x
    if r > 0 then parts[#parts + 1] = strip(d, r) end
    x = T.cat(parts, d)
    s = x:size()
  end
  if t > 0 or b > 0 then
    local parts = {}
    if t > 0 then parts[#parts + 1] = strip(d - 1, t) end
    parts[#parts + 1] = x
    if b > 0 then parts[#parts + 1] = strip(d - 1, b) end
    x = T.cat(parts, d - 1)
  end
  return x
end

-- the k x k windows of x (already padded) at stride s and dilation dl:
-- fn(window_slice) for each offset of the window, each slice the
-- N x C x oh x ow tensor of that offset's elements
local function windows(x, kh, kw, sh, sw, dh, dw, oh, ow, fn)
  for a = 0, kh - 1 do
    local rows = {}
    for i = 1, oh do rows[i] = a * dh + (i - 1) * sh + 1 end
    local xr = x:index_select(x:dim() - 1, rows)
    for b = 0, kw - 1 do
      local cols = {}
      for j = 1, ow do cols[j] = b * dw + (j - 1) * sw + 1 end
      fn(xr:index_select(x:dim(), cols))
    end
  end
end

local function pool_out(name, n, k, s, p, d, what)
  local o = (n + 2 * p - d * (k - 1) - 1) // s + 1
  if o < 1 then
    argcheck.raise(string.format("%s: the %s window (kernel %d, stride %d, padding %d, dilation %d) does not fit a size of %d",
      name, what, k, s, p, d, n))
  end
  return o
end

local POOL_SPEC = {
  stride = { nil, kind = "int_pair", min = 1 }, padding = { 0, kind = "int_pair", min = 0 },
  ceil_mode = { false, check = function(v) if v then return "ceil_mode = true is not implemented" end end },
}
local MAXPOOL_OPTS = argcheck.options("nn.MaxPool2d", {
  stride = POOL_SPEC.stride, padding = POOL_SPEC.padding, dilation = { 1, kind = "int_pair", min = 1 },
  ceil_mode = POOL_SPEC.ceil_mode,
  return_indices = { false, check = function(v) if v then return "return_indices = true is not implemented" end end },
})
local AVGPOOL_OPTS = argcheck.options("nn.AvgPool2d", {
  stride = POOL_SPEC.stride, padding = POOL_SPEC.padding, ceil_mode = POOL_SPEC.ceil_mode,
  count_include_pad = { true }, divisor_override = { nil, kind = "integer", min = 1 },
})

-- the padding must be at most half the kernel, as PyTorch requires
local function check_pool_padding(name, k, p)
  local kh, kw = pair(k)
  local ph, pw = pair(p)
  if ph > kh // 2 or pw > kw // 2 then
    argcheck.raise(string.format("%s: padding %s must be at most half the kernel size %s", name, pair_str(p), pair_str(k)))
  end
end

-- MaxPool2d(kernel [, stride = kernel, padding = 0, dilation = 1] [, {...}]):
-- the padding counts as -inf. Where two elements of a window tie for the
-- maximum the gradient is split between them (PyTorch gives it to one).
local MaxPool2d = Module:extend("MaxPool2d")
nn.MaxPool2d = MaxPool2d
function MaxPool2d:init(k, ...)
  check_pair("MaxPool2d", k, "kernel_size", 1)
  local o = layer_args(MAXPOOL_OPTS, 2, { "stride", "padding", "dilation", "return_indices", "ceil_mode" }, ...)
  check_pool_padding("MaxPool2d", k, o.padding)
  self.kernel_size, self.stride, self.padding, self.dilation = k, o.stride or k, o.padding, o.dilation
end
function MaxPool2d:forward(x)
  check_nchw("MaxPool2d", x, true)
  local kh, kw = pair(self.kernel_size)
  local sh, sw = pair(self.stride)
  local ph, pw = pair(self.padding)
  local dh, dw = pair(self.dilation)
  local H, W = x:size(x:dim() - 1), x:size(x:dim())
  local oh = pool_out("MaxPool2d", H, kh, sh, ph, dh, "height")
  local ow = pool_out("MaxPool2d", W, kw, sw, pw, dw, "width")
  local xp = pad_hw(x, pw, pw, ph, ph, -math.huge)
  local y
  windows(xp, kh, kw, sh, sw, dh, dw, oh, ow, function(v) y = y and y:maximum(v) or v end)
  return y
end
-- a size as PyTorch's pools print it: 2 for (2, 2)
local function one(v) local a, b = pair(v); return a == b and tostring(a) or pair_str(v) end
function MaxPool2d:extra_repr()
  return string.format("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=False", one(self.kernel_size),
    one(self.stride), one(self.padding), one(self.dilation))
end

-- AvgPool2d(kernel [, stride = kernel, padding = 0, ceil_mode, count_include_pad = true,
--           divisor_override] [, {...}]): the padding counts as 0
local AvgPool2d = Module:extend("AvgPool2d")
nn.AvgPool2d = AvgPool2d
function AvgPool2d:init(k, ...)
  check_pair("AvgPool2d", k, "kernel_size", 1)
  local o = layer_args(AVGPOOL_OPTS, 2, { "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override" }, ...)
  check_pool_padding("AvgPool2d", k, o.padding)
  self.kernel_size, self.stride, self.padding = k, o.stride or k, o.padding
  self.count_include_pad, self.divisor_override = o.count_include_pad, o.divisor_override
end
function AvgPool2d:forward(x)
  check_nchw("AvgPool2d", x, true)
  local kh, kw = pair(self.kernel_size)
  local sh, sw = pair(self.stride)
  local ph, pw = pair(self.padding)
  local H, W = x:size(x:dim() - 1), x:size(x:dim())
  local oh = pool_out("AvgPool2d", H, kh, sh, ph, 1, "height")
  local ow = pool_out("AvgPool2d", W, kw, sw, pw, 1, "width")
  local function pool_sum(t)
    local s
    windows(pad_hw(t, pw, pw, ph, ph, 0), kh, kw, sh, sw, 1, 1, oh, ow, function(v) s = s and s + v or v end)
    return s
  end
  local s = pool_sum(x)
  if self.divisor_override then return s / self.divisor_override end
  if self.count_include_pad or (ph == 0 and pw == 0) then return s / (kh * kw) end
  return s / pool_sum(T.ones(H, W)) -- the elements of each window inside the image
end
function AvgPool2d:extra_repr()
  return string.format("kernel_size=%s, stride=%s, padding=%s", one(self.kernel_size), one(self.stride), one(self.padding))
end

-- the out x n matrix that averages each of out adaptive bins of n
-- (PyTorch's bins: floor(i n / out) to ceil((i + 1) n / out))
local function adaptive_matrix(n, out)
  local rows = {}
  for i = 0, out - 1 do
    local a, b = (i * n) // out, -((-(i + 1) * n) // out)
    local r = {}
    for j = 1, n do r[j] = (j - 1 >= a and j - 1 < b) and 1 / (b - a) or 0 end
    rows[i + 1] = r
  end
  return T.from(rows)
end

-- y = Rh x Rw^T on the last two dims, x N x C x H x W (or C x H x W)
local function resample(x, Rh, Rw)
  local s = x:size()
  local d = #s
  local H, W = s[d - 1], s[d]
  local y = Rh:matmul(x:reshape(-1, H, W):matmul(Rw:t()))
  s[d - 1], s[d] = Rh:size(1), Rw:size(1)
  return y:reshape(s)
end

-- AdaptiveAvgPool2d(output_size): an integer, or {h, w} where a nil keeps
-- the input's size
local AdaptiveAvgPool2d = Module:extend("AdaptiveAvgPool2d")
nn.AdaptiveAvgPool2d = AdaptiveAvgPool2d
function AdaptiveAvgPool2d:init(size)
  local a, b
  if type(size) == "table" then a, b = size[1], size[2] else a, b = size, size end
  for _, v in ipairs { a or 1, b or 1 } do
    if math.type(v) ~= "integer" or v < 1 then
      argcheck.raise("AdaptiveAvgPool2d: output_size must be a positive integer or a pair {h, w} of them (nil keeps a size), got "
        .. argcheck.show(size))
    end
  end
  self.output_size = { a, b }
end
function AdaptiveAvgPool2d:forward(x)
  check_nchw("AdaptiveAvgPool2d", x, true)
  local H, W = x:size(x:dim() - 1), x:size(x:dim())
  local oh, ow = self.output_size[1] or H, self.output_size[2] or W
  if oh == 1 and ow == 1 then return x:mean(x:dim(), true):mean(x:dim() - 1, true) end
  return resample(x, adaptive_matrix(H, oh), adaptive_matrix(W, ow))
end
function AdaptiveAvgPool2d:extra_repr()
  local a, b = self.output_size[1], self.output_size[2]
  if a == b then return "output_size=" .. tostring(a) end
  return string.format("output_size=(%s, %s)", tostring(a or "None"), tostring(b or "None"))
end

-- the out x n interpolation matrix of one dim (PyTorch's index rules):
-- nearest: source floor(i * scale); bilinear: source (i + 0.5) * scale - 0.5
-- clamped at 0 (align_corners = false) or i (n - 1) / (out - 1) (true);
-- scale = 1 / scale_factor when one is given, else n / out
local function interp_matrix(n, out, mode, align, factor)
  local scale = factor and 1 / factor or n / out
  local rows = {}
  for i = 0, out - 1 do
    local r = {}
    for j = 1, n do r[j] = 0 end
    if mode == "nearest" then
      r[math.min(math.floor(i * scale), n - 1) + 1] = 1
    else
      local src
      if align then src = out > 1 and i * (n - 1) / (out - 1) or 0
      else src = math.max((i + 0.5) * scale - 0.5, 0) end
      local i0 = math.min(math.floor(src), n - 1)
      local i1 = math.min(i0 + 1, n - 1)
      local l = src - i0
      r[i0 + 1] = r[i0 + 1] + (1 - l)
      r[i1 + 1] = r[i1 + 1] + l
    end
    rows[i + 1] = r
  end
  return T.from(rows)
end

local INTERP_OPTS = argcheck.options("nn.functional.interpolate", {
  size = { nil, kind = "int_pair", min = 1 }, scale_factor = { nil, kind = "any", check = function(v)
    local a, b = pair(v)
    if type(a) ~= "number" or type(b) ~= "number" or not (a > 0 and b > 0) then
      return "expected a positive number or a pair of them, got " .. argcheck.show(v)
    end
  end },
  mode = { "nearest", choices = { "nearest", "bilinear" } }, align_corners = { nil, kind = "boolean" },
  recompute_scale_factor = { nil, kind = "boolean" }, antialias = { false, check = function(v)
    if v then return "antialias = true is not implemented" end end },
})

-- interpolate(x, {size = | scale_factor =, mode = "nearest" | "bilinear", align_corners = false})
function F.interpolate(x, o)
  check_nchw("interpolate", x, true)
  o = INTERP_OPTS:check(o, 2)
  if (o.size == nil) == (o.scale_factor == nil) then argcheck.raise("interpolate: give exactly one of size and scale_factor") end
  if o.align_corners ~= nil and o.mode == "nearest" then
    argcheck.raise("interpolate: align_corners only goes with mode = \"bilinear\"")
  end
  local H, W = x:size(x:dim() - 1), x:size(x:dim())
  local oh, ow, fh, fw
  if o.size then oh, ow = pair(o.size)
  else
    fh, fw = pair(o.scale_factor)
    oh, ow = math.floor(H * fh), math.floor(W * fw)
    if oh < 1 or ow < 1 then argcheck.raise(string.format("interpolate: scale_factor %s makes an empty output", argcheck.show(o.scale_factor))) end
    if o.recompute_scale_factor then fh, fw = nil, nil end
  end
  return resample(x, interp_matrix(H, oh, o.mode, o.align_corners, fh), interp_matrix(W, ow, o.mode, o.align_corners, fw))
end

-- Upsample([size,] scale_factor [, mode, align_corners]) or
-- Upsample{scale_factor = 2, mode = "nearest"}: F.interpolate as a layer
local Upsample = Module:extend("Upsample")
nn.Upsample = Upsample
local UPSAMPLE_OPTS = argcheck.options("nn.Upsample", {
  size = { nil, kind = "int_pair", min = 1 }, scale_factor = { nil, kind = "any" },
  mode = { "nearest", choices = { "nearest", "bilinear" } }, align_corners = { nil, kind = "boolean" },
  recompute_scale_factor = { nil, kind = "boolean" },
})
function Upsample:init(...)
  local o = layer_args(UPSAMPLE_OPTS, 1, { "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor" }, ...)
  self.size, self.scale_factor, self.mode, self.align_corners = o.size, o.scale_factor, o.mode, o.align_corners
  self.recompute_scale_factor = o.recompute_scale_factor
  INTERP_OPTS:check(self:_opts(), 1, "nn.Upsample") -- judged now, not at the first forward
  if (o.size == nil) == (o.scale_factor == nil) then argcheck.raise("Upsample: give exactly one of size and scale_factor") end
end
function Upsample:_opts()
  return { size = self.size, scale_factor = self.scale_factor, mode = self.mode, align_corners = self.align_corners,
           recompute_scale_factor = self.recompute_scale_factor }
end
function Upsample:forward(x)
  check_nchw("Upsample", x, true)
  return F.interpolate(x, self:_opts())
end
function Upsample:extra_repr()
  if self.size then return string.format("size=%s, mode='%s'", pair_str(self.size), self.mode) end
  return string.format("scale_factor=%s, mode='%s'", argcheck.show(self.scale_factor), self.mode)
end

local PAD_OPTS = argcheck.options("nn.functional.pad", {
  mode = { "constant", choices = { "constant", "reflect", "replicate", "circular" } }, value = { 0.0 },
})
-- pad(x, {left, right [, top, bottom [, front, back]]} [, mode = "constant"] [, value = 0]):
-- PyTorch's order, the last dim first; a negative amount crops
function F.pad(x, p, mode, value)
  argcheck.tensor("pad", 1, x, "input")
  local o = type(mode) == "table" and mode or { mode = mode, value = value }
  o = PAD_OPTS:check(o, 3)
  local ok = type(p) == "table" and #p % 2 == 0 and #p > 0 and #p // 2 <= x:dim()
  for i = 1, ok and #p or 0 do ok = ok and math.type(p[i]) == "integer" end
  if not ok then
    argcheck.raise(string.format("pad: pad must be an even-length list of integers, at most 2 per dim of the %d-dim input, got %s",
      x:dim(), argcheck.show(p)))
  end
  for k = 1, #p // 2 do
    local dim = x:dim() - k + 1
    local lo, hi, n = p[2 * k - 1], p[2 * k], x:size(dim)
    if n + lo + hi < 1 then argcheck.raise(string.format("pad: padding %d, %d leaves nothing of dim %d (size %d)", lo, hi, dim, n)) end
    if o.mode == "constant" then
      if lo < 0 then x = x:narrow(dim, 1 - lo, n + lo); n = n + lo; lo = 0 end
      if hi < 0 then x = x:narrow(dim, 1, n + hi); hi = 0 end
      if lo > 0 or hi > 0 then
        local parts, s = {}, x:size()
        local function strip(m) local sz = {}; for i = 1, #s do sz[i] = s[i] end; sz[dim] = m; return T.full(sz, o.value) end
        if lo > 0 then parts[#parts + 1] = strip(lo) end
        parts[#parts + 1] = x
        if hi > 0 then parts[#parts + 1] = strip(hi) end
        x = T.cat(parts, dim)
      end
    else
      if o.mode == "reflect" and (lo >= n or hi >= n) then
        argcheck.raise(string.format("pad: reflect padding %d, %d must be below the size %d of dim %d", lo, hi, n, dim))
      end
      if o.mode == "circular" and (lo > n or hi > n) then
        argcheck.raise(string.format("pad: circular padding %d, %d must be at most the size %d of dim %d", lo, hi, n, dim))
      end
      local idx = {}
      for i = -lo, n + hi - 1 do
        local j
        if o.mode == "replicate" then j = math.min(math.max(i, 0), n - 1)
        elseif o.mode == "circular" then j = i % n
        else j = i < 0 and -i or (i >= n and 2 * (n - 1) - i or i) end
        idx[#idx + 1] = j + 1
      end
      x = x:index_select(dim, idx)
    end
  end
  return x
end

------------------------------------------------------ more normalisation

-- the per-channel scale and shift, shaped to broadcast over N x C x ...
local function affine_view(t, d)
  local s = { 1, t:numel() }
  for _ = 3, d do s[#s + 1] = 1 end
  return t:view(s)
end

-- InstanceNorm2d(C [, eps = 1e-5, momentum = 0.1, affine = false,
-- track_running_stats = false]): each sample's channel normalised over H x W
-- (the fused batch-norm op over N x C rows)
local INSTANCE_OPTS = argcheck.options("nn.InstanceNorm2d", {
  eps = { 1e-5, min = 0 }, momentum = { 0.1, min = 0, max = 1 }, affine = { false },
  track_running_stats = { false, check = function(v) if v then return "track_running_stats = true is not implemented" end end },
})
local InstanceNorm2d = Module:extend("InstanceNorm2d")
nn.InstanceNorm2d = InstanceNorm2d
function InstanceNorm2d:init(c, ...)
  check_int("InstanceNorm2d", c, "num_features")
  local o = layer_args(INSTANCE_OPTS, 2, { "eps", "momentum", "affine", "track_running_stats" }, ...)
  self.num_features, self.eps, self.momentum, self.affine = c, o.eps, o.momentum, o.affine
  if o.affine then
    self:register_parameter("weight", alloc("InstanceNorm2d", T.ones, c):requires_grad())
    self:register_parameter("bias", T.zeros(c):requires_grad())
  end
end
function InstanceNorm2d:forward(x)
  check_nchw("InstanceNorm2d", x, true)
  local d = x:dim()
  if x:size(d - 2) ~= self.num_features then
    argcheck.raise(string.format("InstanceNorm2d: input %s has %d channels, the layer expects %d", table.concat(x:size(), "x"),
      x:size(d - 2), self.num_features))
  end
  local s = x:size()
  local hw = s[d - 1] * s[d]
  if hw < 2 then argcheck.raise("InstanceNorm2d: expected more than 1 spatial element per channel, got " .. table.concat(s, "x")) end
  local y = (C.batch_norm(x:reshape(1, -1, hw), nil, nil, self.eps)):reshape(s)
  if self.affine then
    local w, b = self.weight, self.bias
    if d == 3 then w, b = w:view(-1, 1, 1), b:view(-1, 1, 1) else w, b = affine_view(w, d), affine_view(b, d) end
    y = y * w + b
  end
  return y
end
function InstanceNorm2d:extra_repr()
  return string.format("%d, eps=%g, momentum=%g, affine=%s, track_running_stats=False", self.num_features, self.eps,
    self.momentum, pyb(self.affine))
end

-- GroupNorm(num_groups, num_channels [, eps = 1e-5, affine = true]): each
-- sample's groups of C / G channels normalised together (Wu and He 2018)
local GROUP_OPTS = argcheck.options("nn.GroupNorm", { eps = { 1e-5, min = 0 }, affine = { true } })
local GroupNorm = Module:extend("GroupNorm")
nn.GroupNorm = GroupNorm
function GroupNorm:init(g, c, ...)
  check_int("GroupNorm", g, "num_groups"); check_int("GroupNorm", c, "num_channels")
  if c % g ~= 0 then argcheck.raise(string.format("GroupNorm: num_channels %d must be divisible by num_groups %d", c, g)) end
  local o = layer_args(GROUP_OPTS, 3, { "eps", "affine" }, ...)
  self.num_groups, self.num_channels, self.eps, self.affine = g, c, o.eps, o.affine
  if o.affine then
    self:register_parameter("weight", alloc("GroupNorm", T.ones, c):requires_grad())
    self:register_parameter("bias", T.zeros(c):requires_grad())
  end
end
function GroupNorm:forward(x)
  check_x("GroupNorm", x, 2)
  if x:size(2) ~= self.num_channels then
    argcheck.raise(string.format("GroupNorm: input %s has %d channels, the layer expects %d", table.concat(x:size(), "x"),
      x:size(2), self.num_channels))
  end
  local s = x:size()
  local per = x:numel() // (s[1] * self.num_groups)
  if per < 2 then argcheck.raise("GroupNorm: expected more than 1 value per group, got " .. table.concat(s, "x")) end
  local y = (C.batch_norm(x:reshape(1, -1, per), nil, nil, self.eps)):reshape(s)
  if self.affine then y = y * affine_view(self.weight, #s) + affine_view(self.bias, #s) end
  return y
end
function GroupNorm:extra_repr()
  return string.format("%d, %d, eps=%g, affine=%s", self.num_groups, self.num_channels, self.eps, pyb(self.affine))
end

-- Dropout2d(p = 0.5): zeroes whole channels (N x C x H x W, or C x H x W)
-- with probability p in training, scaling the rest by 1 / (1 - p)
local Dropout2d = Module:extend("Dropout2d")
nn.Dropout2d = Dropout2d
function Dropout2d:init(p) self.p = dropout_p("Dropout2d", p) end
function Dropout2d:forward(x)
  check_nchw("Dropout2d", x, true)
  if not self.training or self.p == 0 then return x end
  if self.p == 1 then return x * 0 end
  local s = x:size()
  local m = {}
  for i = 1, #s do m[i] = i <= #s - 2 and s[i] or 1 end
  return x * T.rand(m):ge(self.p) / (1 - self.p)
end
function Dropout2d:extra_repr() return string.format("p=%g, inplace=False", self.p) end

-- more activations: ELU(alpha = 1), GELU(approximate = "none" | "tanh"), SiLU()
local ELU = activation("ELU", function(self, x)
  local r = x:relu()
  return r + ((x - r):exp() - 1) * self.alpha
end, function(self) return string.format("alpha=%g", self.alpha) end)
function ELU:init(alpha)
  if alpha ~= nil and type(alpha) ~= "number" then argcheck.raise("ELU: alpha must be a number, got " .. argcheck.typename(alpha)) end
  self.alpha = alpha or 1.0
end
local GELU_OPTS = argcheck.options("nn.GELU", { approximate = { "none", choices = { "none", "tanh" } } })
local GELU = activation("GELU", function(self, x)
  if self.approximate == "tanh" then
    return x * 0.5 * ((x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)):tanh() + x * 0.5
  end
  return x * 0.5 * ((x * (1 / math.sqrt(2))):erf() + 1)
end, function(self) return string.format("approximate='%s'", self.approximate) end)
function GELU:init(...) self.approximate = layer_args(GELU_OPTS, 1, { "approximate" }, ...).approximate end
local SiLU = activation("SiLU", function(_, x) return x * x:sigmoid() end)
function SiLU:init(inplace, ...)
  inplace_arg("SiLU", inplace, 1)
  if select("#", ...) > 0 then argcheck.raise("SiLU: takes at most 1 argument (inplace)") end
end

---------------------------------------------------------------- losses as modules

-- nn.BCELoss, nn.BCEWithLogitsLoss, nn.MSELoss, nn.L1Loss, nn.CrossEntropyLoss
-- ([weight] [, {reduction = "mean", ...}]): loss(input, target), the
-- functions of ganlua.losses with PyTorch's module form. weight rescales
-- each element (BCE) or each class (cross-entropy, whose mean is then
-- weighted as PyTorch's is).
local losses = require "ganlua.losses"
local function loss_module(name, fn, args, spec)
  local cls = Module:extend(name)
  spec.reduction = { "mean", choices = { "mean", "sum", "none" } }
  local decl = argcheck.options("nn." .. name, spec)
  function cls:init(...)
    local o = layer_args(decl, 1, args, ...)
    for k, v in pairs(o) do self[k] = v end
  end
  function cls:forward(input, target) return fn(self, input, target) end
  function cls:extra_repr() return "" end
  nn[name] = cls
  return cls
end
-- each module holds its options and passes them to its function
local function opts_of(self, keys)
  local o = {}
  for _, k in ipairs(keys) do o[k] = self[k] end
  return o
end
loss_module("BCELoss", function(self, p, t) return losses.bce(p, t, opts_of(self, { "reduction", "weight" })) end,
  { "weight" }, { weight = { nil, kind = "tensor" } })
loss_module("BCEWithLogitsLoss", function(self, x, t)
  return losses.bce_with_logits(x, t, opts_of(self, { "reduction", "weight", "pos_weight" }))
end, { "weight" }, { weight = { nil, kind = "tensor" }, pos_weight = { nil, kind = "tensor" } })
loss_module("MSELoss", function(self, x, t) return losses.mse(x, t, opts_of(self, { "reduction" })) end, {}, {})
loss_module("L1Loss", function(self, x, t) return losses.l1(x, t, opts_of(self, { "reduction" })) end, {}, {})
loss_module("CrossEntropyLoss", function(self, x, t)
  return losses.cross_entropy(x, t, opts_of(self, { "reduction", "label_smoothing", "weight" }))
end, { "weight" }, { weight = { nil, kind = "tensor" }, label_smoothing = { 0.0, min = 0, max = 1 },
                     ignore_index = { -100, check = function(v) if v ~= -100 then return "ignore_index is not implemented" end end } })

---------------------------------------------------------------- containers

-- ModuleList{m1, m2, ...}: modules held, not run (no forward); list[i]
-- (1-based), #list, ipairs(list), list:append(m), list:extend{...},
-- list:insert(i, m). State-dict names are PyTorch's ("0.weight").
local ModuleList = Module:extend("ModuleList")
nn.ModuleList = ModuleList
function ModuleList:init(list)
  if list ~= nil and (type(list) ~= "table" or argcheck.is_module(list)) then
    argcheck.raise("ModuleList: expected a list of modules, got " .. argcheck.typename(list))
  end
  for i, m in ipairs(list or {}) do
    if not argcheck.is_module(m) then argcheck.raise(string.format("ModuleList: entry %d is not a module", i)) end
    self:add_module(tostring(i - 1), m)
  end
end
function ModuleList:forward() argcheck.raise("ModuleList: a container has no forward; call its modules") end
function ModuleList.__index(self, k)
  if type(k) == "number" then
    local name = self._children[k > 0 and k or #self._children + k + 1]
    return name and rawget(self, name)
  end
  return ModuleList[k]
end
ModuleList.__len = function(self) return #self._children end
function ModuleList:append(m)
  argcheck.module("ModuleList:append", 1, m, "module")
  self:add_module(tostring(#self._children), m)
  return self
end
function ModuleList:extend(list)
  if type(list) ~= "table" then argcheck.fail("ModuleList:extend", 1, "modules", "a list of modules", list) end
  for _, m in ipairs(list) do self:append(m) end
  return self
end
-- insert(i, m): m becomes entry i (1-based); later ones move up and are renamed
function ModuleList:insert(i, m)
  local n = #self._children
  if math.type(i) ~= "integer" or i < 1 or i > n + 1 then
    argcheck.raise(string.format("ModuleList:insert: index must be an integer in 1..%d, got %s", n + 1, argcheck.show(i)))
  end
  argcheck.module("ModuleList:insert", 2, m, "module")
  local mods = {}
  for k = 1, n do mods[k] = self[k] end
  table.insert(mods, i, m)
  for _, name in ipairs(self._children) do rawset(self, name, nil) end
  self._children = {}
  for k, mm in ipairs(mods) do self:add_module(tostring(k - 1), mm) end
  return self
end

-- ModuleDict{name = module, ...} (names sorted) or ModuleDict{{name, module}, ...}
-- (in that order): dict[name], #dict, dict:keys(), dict:values(),
-- dict:items() (ordered lists), dict:update(t)
local ModuleDict = Module:extend("ModuleDict")
nn.ModuleDict = ModuleDict
function ModuleDict:init(t) if t ~= nil then self:update(t) end end
function ModuleDict:forward() argcheck.raise("ModuleDict: a container has no forward; call its modules") end
function ModuleDict:update(t)
  if type(t) ~= "table" or argcheck.is_module(t) then argcheck.fail("ModuleDict:update", 1, "modules", "a table of modules", t) end
  local entries = {}
  if #t > 0 then
    for i, kv in ipairs(t) do
      if type(kv) ~= "table" or type(kv[1]) ~= "string" then
        argcheck.raise(string.format("ModuleDict: entry %d must be a {name, module} pair", i))
      end
      entries[#entries + 1] = kv
    end
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then argcheck.raise("ModuleDict: names must be strings, got " .. argcheck.typename(k)) end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    for _, k in ipairs(keys) do entries[#entries + 1] = { k, t[k] } end
  end
  for _, kv in ipairs(entries) do
    if not argcheck.is_module(kv[2]) then argcheck.raise(string.format("ModuleDict: '%s' is not a module", kv[1])) end
    if rawget(self, kv[1]) ~= nil then
      rawset(self, kv[1], kv[2]) -- a new module under an existing name replaces it, in its place
    else
      self:add_module(kv[1], kv[2])
    end
  end
  return self
end
ModuleDict.__len = function(self) return #self._children end
function ModuleDict:keys() local out = {}; for i, k in ipairs(self._children) do out[i] = k end; return out end
function ModuleDict:values() local out = {}; for i, k in ipairs(self._children) do out[i] = rawget(self, k) end; return out end
function ModuleDict:items() local out = {}; for i, k in ipairs(self._children) do out[i] = { k, rawget(self, k) } end; return out end

---------------------------------------------------------------- deepcopy

-- m:deepcopy(): an independent copy of a module (PyTorch's
-- copy.deepcopy(model)): new parameter and buffer tensors with the same
-- values (parameters still require grad, without a .grad), the same classes.
local function copy_value(v, memo)
  if T.is_tensor(v) then
    if memo[v] then return memo[v] end
    local c = v:detach():clone()
    if v.is_leaf and v:is_requires_grad() then c = c:requires_grad() end
    memo[v] = c
    return c
  end
  if type(v) ~= "table" then return v end
  if memo[v] then return memo[v] end
  local mt = getmetatable(v)
  -- classes and other shared tables are not instance state: only modules
  -- and plain tables are copied
  if mt ~= nil and not argcheck.is_module(v) then return v end
  local c = {}
  memo[v] = c
  for k, x in next, v do rawset(c, copy_value(k, memo), copy_value(x, memo)) end
  return setmetatable(c, mt)
end
function Module:deepcopy()
  argcheck.module("deepcopy", 0, self, "module")
  return copy_value(self, {})
end

---------------------------------------------------------------- gradient clipping

-- parameters as clip_grad_* take them: a module, a tensor or a list
local function grads_of(name, params)
  if argcheck.is_module(params) then params = params:parameters() end
  if T.is_tensor(params) then params = { params } end
  if type(params) ~= "table" then argcheck.fail(name, 1, "parameters", "a module, a Tensor or a list of them", params) end
  for i, p in ipairs(params) do
    if not T.is_tensor(p) then argcheck.raise(string.format("%s: parameter %d is not a Tensor", name, i)) end
  end
  return params
end

-- clip_grad_norm_(parameters, max_norm [, norm_type = 2] [, {error_if_nonfinite = false}])
-- -> the total norm of the gradients before clipping (a number); scales
-- every .grad by max_norm / (total + 1e-6) when that is below 1
function nn.utils.clip_grad_norm_(params, max_norm, norm_type, o)
  params = grads_of("clip_grad_norm_", params)
  argcheck.number("clip_grad_norm_", 2, max_norm, "max_norm")
  if type(norm_type) == "table" then o, norm_type = norm_type, nil end
  norm_type = norm_type or 2
  if type(norm_type) ~= "number" or not (norm_type > 0) then
    argcheck.raise("clip_grad_norm_: norm_type must be a positive number or math.huge, got " .. argcheck.show(norm_type))
  end
  local strict = o and o.error_if_nonfinite
  local total = 0
  for _, p in ipairs(params) do
    local g = p.grad
    if g then
      if norm_type == math.huge then total = math.max(total, g:abs():max():item())
      elseif norm_type == 2 then total = total + (g * g):sum():item()
      else total = total + (g:abs() ^ norm_type):sum():item() end
    end
  end
  if norm_type ~= math.huge then total = total ^ (1 / norm_type) end
  if strict and not (total < math.huge) then
    argcheck.raise(string.format("clip_grad_norm_: the total norm of the gradients is %s", tostring(total)))
  end
  local coef = max_norm / (total + 1e-6)
  if coef < 1 then
    A.no_grad(function() for _, p in ipairs(params) do if p.grad then p.grad:mul_(coef) end end end)
  end
  return total
end

-- clip_grad_value_(parameters, clip_value): every .grad clamped to
-- [-clip_value, clip_value] in place
function nn.utils.clip_grad_value_(params, v)
  params = grads_of("clip_grad_value_", params)
  argcheck.number("clip_grad_value_", 2, v, "clip_value")
  if not (v >= 0) then argcheck.raise("clip_grad_value_: clip_value must be >= 0, got " .. tostring(v)) end
  A.no_grad(function() for _, p in ipairs(params) do if p.grad then p.grad:clamp_(-v, v) end end end)
end

---------------------------------------------------------------- Sequential

-- Sequential{ m1, m2, ... }: children named "0", "1", ... (PyTorch's
-- state-dict names); seq[i] is the i-th module (1-based, like any Lua
-- list), #seq the count, seq:slice(i, j) a Sequential sharing modules i..j.
local Sequential = Module:extend("Sequential")
nn.Sequential = Sequential
function Sequential:init(list, ...)
  if list == nil then list = {}
  elseif type(list) ~= "table" then
    argcheck.raise("Sequential: expected a list of modules or modules, got " .. argcheck.typename(list))
  elseif getmetatable(list) and list.forward then list = { list, ... } end
  for i, m in ipairs(list) do
    if not argcheck.is_module(m) then
      argcheck.raise(string.format("Sequential: entry %d is not a module", i))
    end
    self:add_module(tostring(i - 1), m)
  end
end
-- the slope of m2 when Linear m1 then m2 can run as one fused op on x
-- (C.linear with a slope): m2 a ReLU or a LeakyReLU of slope >= 0, both
-- plain instances of their classes (no forward of their own), x 2-D
local function fused_slope(m1, m2, x)
  if getmetatable(m1) ~= Linear or rawget(m1, "forward") or rawget(m2, "forward") then return nil end
  local cls = getmetatable(m2)
  local slope = (cls == nn.ReLU and 0) or (cls == nn.LeakyReLU and m2.negative_slope) or nil
  if not slope or not (slope >= 0) or not T.is_tensor(x) or x:dim() ~= 2 then return nil end
  return slope
end
function Sequential:forward(x)
  local ch = self._children
  local i, n = 1, #ch
  while i <= n do
    local m = self[ch[i]]
    local slope = i < n and fused_slope(m, self[ch[i + 1]], x)
    if slope then -- the same values and gradients as m then its activation, one op
      x = C.linear(x, m.weight, m.bias, slope)
      i = i + 2
    else
      x = m(x)
      i = i + 1
    end
  end
  return x
end
function Sequential.__index(self, k)
  if type(k) == "number" then
    local name = self._children[k > 0 and k or #self._children + k + 1]
    return name and rawget(self, name)
  end
  return Sequential[k]
end
function Sequential.__len(self) return #self._children end
function Sequential:add(m)
  argcheck.module("Sequential:add", 1, m, "module")
  return self:add_module(tostring(#self._children), m)
end
function Sequential:slice(i, j)
  local n = #self._children
  j = j or n
  if math.type(i) ~= "integer" or math.type(j) ~= "integer" then
    argcheck.raise(string.format("Sequential:slice: i and j must be integers, got %s and %s", argcheck.typename(i),
      argcheck.typename(j)))
  end
  local i0, j0 = i, j
  if i < 0 then i = n + i + 1 end
  if j < 0 then j = n + j + 1 end
  if i < 1 or j > n then
    argcheck.raise(string.format("Sequential:slice: %d..%d is outside the %d modules", i0, j0, n))
  end
  local list = {}
  for k = i, j do list[#list + 1] = self[k] end
  return Sequential(list)
end

return nn
