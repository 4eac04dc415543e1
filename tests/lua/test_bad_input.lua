-- The kinds of bad input a PyTorch user's port hits (issue: one owner for
-- every fact), each with a clear error naming what was wrong, or a
-- documented PyTorch-compatible result. Cases written here, not copied
-- from the report: each kind is tried with values of its own.

local raises = check.raises_all
local function P() return nn.Linear(3, 2):parameters() end
local function tmpfile(ext) return os.tmpname() .. ext end

test("optimizer options PyTorch refuses are refused, naming the option", function()
  raises(function() optim.SGD(P(), { lr = 0 / 0 }) end, "optim.SGD: option lr: expected a number (not NaN)")
  raises(function() optim.SGD(P(), { lr = -0.1 }) end, "option lr: expected a number >= 0, got -0.1")
  raises(function() optim.Adam(P(), { eps = -1e-8 }) end, "option eps: expected a number >= 0")
  raises(function() optim.Adam(P(), { weight_decay = -0.01 }) end, "option weight_decay")
  raises(function() optim.SGD(P(), { momentum = -0.9 }) end, "option momentum: expected a number >= 0")
  raises(function() optim.RMSprop(P(), { alpha = -0.5 }) end, "option alpha")
  raises(function() optim.RMSprop(P(), { momentum = 0 / 0 }) end, "option momentum: expected a number (not NaN)")
  raises(function() optim.Adam(P(), { betas = { 0.9, 1.0 } }) end, "option betas: expected a number < 1 in each entry")
  raises(function() optim.Adam(P(), { betas = { 0.9 } }) end, "option betas: expected a list of 2 numbers")
  raises(function() optim.Adam(P(), { lr = 1 / 0 }) end, "option lr: expected a finite number")
  raises(function() optim.Adam(P(), { lerning_rate = 1 }) end, "unknown option 'lerning_rate'")
  raises(function() optim.SGD(P(), { moment = 0.9 }) end, "did you mean 'momentum'?")
  -- the same tensor twice would be stepped twice per step
  local l = nn.Linear(2, 2)
  raises(function() optim.Adam({ l.weight, l.bias, l.weight }) end, "parameters 1 and 3 are the same tensor")
  -- load_state_dict checks the loaded options against the same declaration
  local o = optim.Adam(P())
  local sd = o:state_dict()
  sd.options.betas = { 3, 0.5 }
  raises(function() o:load_state_dict(sd) end, "Adam.load_state_dict: option betas", "< 1")
  sd.options.betas, sd.options.lrr = { 0.5, 0.9 }, 1
  raises(function() o:load_state_dict(sd) end, "unknown option 'lrr'")
  check.near(o.betas[1], 0.9, 0, "a refused state leaves the optimizer as it was")
end)

test("typos in options tables are errors with a did-you-mean, everywhere", function()
  raises(function() nn.Conv2d(1, 4, 3, { stide = 2 }) end, "nn.Conv2d: unknown option 'stide' (did you mean 'stride'?)")
  raises(function() nn.ConvTranspose2d(4, 1, 4, { output_pad = 1 }) end, "did you mean 'output_padding'?")
  raises(function() nn.Linear(4, 2, { bais = false }) end, "nn.Linear: unknown option 'bais' (did you mean 'bias'?)")
  raises(function() nn.BatchNorm1d(8, { momentun = 0.2 }) end, "did you mean 'momentum'?")
  raises(function() nn.LayerNorm(8, { elementwise_afine = false }) end, "did you mean 'elementwise_affine'?")
  raises(function() nn.Upsample { scale = 2 } end, "nn.Upsample: unknown option 'scale'")
  raises(function() nn.Upsample("bilinear") end, "option size")
  raises(function() nn.init.kaiming_normal_(tensor.empty(3, 3), { nonlinearty = "relu" }) end, "did you mean 'nonlinearity'?")
  raises(function() nn.utils.spectral_norm(nn.Linear(2, 2), { n_power_iteration = 2 }) end, "did you mean 'n_power_iterations'?")
  local x = tensor.ones(3):requires_grad()
  raises(function() autograd.grad((x * x):sum(), x, { create_grpah = true }) end,
    "autograd.grad: unknown option 'create_grpah' (did you mean 'create_graph'?)")
  raises(function() (x * x):sum():backward({ retain = true }) end, "backward: unknown option 'retain'")
  raises(function() autograd.backward({ (x * x):sum() }, { retian_graph = true }) end, "did you mean 'retain_graph'?")
  raises(function() tensor.zeros(2, { requires_gard = true }) end, "unknown option 'requires_gard'")
  raises(function() tensor.ones(4):var({ unbaised = false }) end, "did you mean 'unbiased'?")
  raises(function() losses.mse(tensor.ones(2), tensor.ones(2), { reduce = "sum" }) end, "losses.mse: unknown option 'reduce'")
  raises(function() losses.cross_entropy(tensor.zeros(2, 3), { 1, 2 }, { smoothing = 0.1 }) end, "unknown option 'smoothing'")
  raises(function() losses.mse(tensor.ones(2), tensor.ones(2), { reduction = "avg" }) end,
    'option reduction: expected one of "mean", "sum", "none", got "avg"')
end)

test("PyTorch's positional constructor arguments are taken, not dropped", function()
  local c = nn.Conv2d(3, 8, 4, 2, 1, 1, 1, false)
  check.eq(c.stride, 2); check.eq(c.padding, 1); check.truthy(c.bias == nil, "bias = False")
  check.eq(tostring(c), "Conv2d(3, 8, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)")
  check.eq(c(tensor.zeros(1, 3, 16, 16)):size(3), 8)
  local t = nn.ConvTranspose2d(8, 3, 4, 2, 1, 0, 1, false)
  check.eq(t(tensor.zeros(1, 8, 8, 8)):size(3), 16); check.truthy(t.bias == nil)
  check.truthy(nn.Linear(3, 2, false).bias == nil)
  local bn = nn.BatchNorm2d(4, 1e-3, 0.3, false)
  check.near(bn.eps, 1e-3, 0); check.near(bn.momentum, 0.3, 0); check.truthy(bn.weight == nil, "affine = False")
  check.eq(nn.Conv2d(1, 1, 3, { 2, 1 }).stride[1], 2, "a {h, w} pair is positional")
  raises(function() nn.Conv2d(1, 1, 3, 2, { stride = 2 }) end, "stride given both as argument 4 and as an option")
  raises(function() nn.Linear(3, 2, true, 5) end, "nn.Linear: takes at most 1 arguments after the first 2")
  raises(function() nn.Conv2d(1, 1, 3, 1, 0, 1, 2) end, "option groups", "only groups = 1")
  raises(function() nn.BatchNorm1d(4, -1) end, "nn.BatchNorm1d: option eps: expected a number >= 0, got -1")
end)

test("in-place writes through a view of a leaf that requires grad are refused", function()
  local x = tensor.ones(2, 3):requires_grad()
  raises(function() x[2]:fill_(0) end, "fill_: in-place write to a view of a leaf that requires grad")
  raises(function() x:reshape(3, 2):mul_(2) end, "mul_: in-place write to a view")
  raises(function() x:narrow(1, 2, 1):clamp_(0, 0.5) end, "clamp_: in-place write to a view")
  raises(function() x:view(6):add_(tensor.ones(6)) end, "add_: in-place write to a view")
  check.eq(x:sum():item(), 6, "nothing was written")
  autograd.no_grad(function() x[1]:fill_(2) end) -- allowed without recording, as in PyTorch
  check.eq(x:sum():item(), 9)
  x:detach():zero_() -- a detached alias may be written, as in PyTorch
  check.eq(x:sum():item(), 0)
  local y = tensor.ones(4)
  y[1]:fill_(3); check.eq(y:sum():item(), 6, "plain tensors are untouched by the guard")
end)

test("losses refuse what PyTorch refuses instead of computing a wrong value", function()
  raises(function() losses.bce(tensor.from({ 0.2, 1.5 }), tensor.from({ 0, 1 })) end,
    "bce: input must hold probabilities in [0, 1]", "bce_with_logits")
  raises(function() losses.bce(tensor.from({ -0.1, 0.5 }), 1) end, "[-0.1, 0.5]")
  raises(function() losses.bce(tensor.from({ 0.5, 0 / 0 }), 1) end, "bce: the input holds NaN")
  raises(function() losses.mse(tensor.ones(2, 3), tensor.ones(3, 2)) end, "mse: target 3x2 does not match input 2x3")
  raises(function() losses.l1(tensor.ones(4, 1), tensor.ones(4)) end, "l1: target 4 does not match input 4x1")
  raises(function() losses.bce_with_logits(tensor.ones(6), tensor.ones(2, 3)) end, "does not match input 6")
  raises(function() losses.gaussian_nll(tensor.zeros(3), tensor.zeros(3), tensor.from({ 1, 0.5, -0.01 })) end,
    "gaussian_nll: var has a negative")
  raises(function() losses.gaussian_nll(tensor.zeros(3), tensor.zeros(3), -2) end, "var has a negative")
  raises(function() losses.cross_entropy(tensor.zeros(2, 3), { 1, 2 }, { label_smoothing = 1.5 }) end,
    "option label_smoothing: expected a number <= 1, got 1.5")
  raises(function() losses.cross_entropy(tensor.zeros(2, 3), { 1, 2 }, { label_smoothing = -0.1 }) end, ">= 0")
  -- a one-element target and same-shape targets still work
  check.near(losses.mse(tensor.ones(2, 3), tensor.zeros(1)):item(), 1, 1e-6)
  check.near(losses.bce(tensor.full({ 4 }, 0.5), 1):item(), math.log(2), 1e-6)
end)

test("constructors refuse what is not a size or not finite", function()
  raises(function() tensor.zeros("3") end, "bad argument #1 to 'zeros' (sizes must be integers, got string)")
  raises(function() tensor.ones(2, "x") end, "bad argument #2 to 'ones'")
  raises(function() tensor.arange(0, 0 / 0) end, "arange: start, end and step must be finite")
  raises(function() tensor.arange(0, 1 / 0) end, "must be finite")
  raises(function() tensor.arange(0, 10, 0) end, "step must be non-zero")
  raises(function() tensor.linspace(0 / 0, 1, 4) end, "linspace: start and end must be finite")
  raises(function() tensor.eye(-2) end, "eye: sizes must be non-negative")
  check.eq(tensor.arange(1, 2, 0.25):numel(), 4)
  check.eq(tensor.linspace(0, 1, 5):totable()[4], 0.75)
end)

test("numbers in messages are not cut to 32 bits", function()
  raises(function() tensor.ones(2):sum(math.maxinteger) end, "dim 9223372036854775807 out of range")
  raises(function() tensor.ones(2):mean(-(1 << 40)) end, "dim -1099511627776 out of range")
end)

test("checkpoint values come back as they went in: NaN, infinities, mixed tables", function()
  local path = tmpfile(".safetensors")
  local m = nn.Linear(1, 1)
  ckpt.save(path, { m = m, loss = 0 / 0, best = math.huge, worst = -math.huge,
                    mixed = { 10, 20, tag = "x" }, sparse = { [1] = "a", [5] = "e" }, list = { 1, 2, 3 } })
  local s = ckpt.load(path, { m = m })
  check.truthy(s.loss ~= s.loss, "NaN")
  check.eq(s.best, math.huge); check.eq(s.worst, -math.huge)
  check.eq(s.mixed[1], 10); check.eq(s.mixed[2], 20); check.eq(s.mixed.tag, "x")
  check.eq(s.sparse[5], "e"); check.eq(s.sparse[1], "a")
  check.eq(#s.list, 3)
  os.remove(path)
end)

test("a CSV whose rows hold NaN or infinities reads back whole", function()
  local path = tmpfile(".csv")
  data.write_csv(tensor.from({ { 0 / 0, 1 }, { 2, 1 / 0 }, { -1 / 0, 3 } }), path)
  local t = data.read_csv(path)
  check.eq(t:size(1), 3, "the first row is data, not a header")
  local r = t:totable()
  check.truthy(r[1][1] ~= r[1][1]); check.eq(r[2][2], math.huge); check.eq(r[3][1], -math.huge)
  data.write_csv(tensor.from({ { 1, 2 } }), path, "x,y")
  check.eq(data.read_csv(path):size(1), 1, "a header is still skipped")
  os.remove(path)
end)

test("file errors name the path and a reason", function()
  local png = tmpfile(".png")
  image.save(tensor.rand(3, 4, 4), png)
  local f = io.open(png, "rb"); local b = f:read("a"); f:close()
  f = io.open(png, "wb"); f:write(b:sub(1, #b - 12)); f:close() -- no IEND chunk
  local t, err = image.load(png)
  check.truthy(t == nil and err:find(png, 1, true) and err:find("truncated", 1, true), err)
  t, err = image.load("/")
  check.truthy(t == nil and err:find("/: Is a directory", 1, true), err)
  raises(function() ckpt.load("/", {}) end, "ckpt.load: /: not a regular file")
  raises(function() image.save(tensor.rand(3, 2, 2), "/") end, "save_png: cannot write /:")
  os.remove(png)
end)

test("the REPL survives a value whose __tostring raises", function()
  local bad = setmetatable({}, { __tostring = function() error("boom") end })
  local s = require("ganlua.repl").show(bad)
  check.truthy(s:find("__tostring failed", 1, true), s)
  s = require("ganlua.repl").show({ bad, x = bad })
  check.truthy(s:find("__tostring failed", 1, true), s)
end)

test("help shows the options a function declares: the same declaration that checks its calls", function()
  local printed = {}
  local real_print = print
  print = function(...) printed[#printed + 1] = table.concat({ ... }, "\t") end
  local ok, err = pcall(function() help(optim.Adam); help(nn.Conv2d); help(losses.cross_entropy) end)
  print = real_print
  assert(ok, err)
  local text = table.concat(printed, "\n")
  check.truthy(text:find("options: amsgrad = false, betas = {0.9, 0.999} (>= 0 and < 1), eps = 1e-08 (>= 0)", 1, true), text)
  check.truthy(text:find("stride = 1 (>= 1)", 1, true), text)
  check.truthy(text:find('reduction = "mean" ("mean"|"sum"|"none")', 1, true), text)
end)

test("the REPL survives values whose __pairs, __len or __tostring raise, at the prompt and in repl()", function()
  local input = 'setmetatable({}, {__pairs = function() error("p") end})\n'
    .. 'setmetatable({}, {__len = function() error("l") end})\n'
    .. 'setmetatable({}, {__tostring = function() error("t") end})\n'
    .. 'error(setmetatable({}, {__tostring = function() error("e") end}))\n'
    .. 'print("still " .. "here")\n'
  local path = os.tmpname()
  local f = assert(io.open(path, "w")); f:write(input); f:close()
  for _, how in ipairs { "", "-e 'repl()'" } do
    local p = io.popen(string.format("%s %s < %s 2>&1; echo \"rc=$?\"", check.ganlua, how, path))
    local out = p:read("a"); p:close()
    check.truthy(out:find("still here", 1, true) and out:find("rc=0", 1, true), how .. ": " .. out)
    check.truthy(out:find("cannot be shown", 1, true) and out:find("__tostring failed", 1, true), out)
  end
  os.remove(path)
end)
