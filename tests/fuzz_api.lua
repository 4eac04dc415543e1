-- tests/fuzz_api.lua — the API fuzzer that tests/lua/test_api_fuzz.lua runs
-- in a child process:
--   ganlua tests/fuzz_api.lua SEED CALLS
-- Seeded random calls of the public functions and methods with random
-- arguments, each inside pcall. A bad call may raise an error that names the
-- function, or return nil, message; what it must not raise is an internal
-- error (see internal below): a raw Lua error from inside the library. A
-- crash or a sanitizer report ends the process, and so fails the test.
-- Run it in an empty scratch directory: calls write files named after the
-- random strings into the current directory. Each call is written to
-- fuzz_api.log there before it is made (the last line names a crashing call).
-- Prints "INTERNAL <call>: <message>" for each distinct internal error, then
-- "fuzz_api: calls=N ok=N errors=N internal=N".
local seed, calls = math.tointeger(tonumber(arg[1] or "")), math.tointeger(tonumber(arg[2] or ""))
if not seed or not calls then
  io.stderr:write("usage: ganlua tests/fuzz_api.lua SEED CALLS\n")
  os.exit(2)
end
math.randomseed(seed)
tensor.manual_seed(seed)

---------------------------------------------------------------- arguments

-- No size here allocates gigabytes: 2^53 and 1e12 elements fail at once
-- (out of memory, or too many elements), and the other numbers are small.
local pool = {
  true, false, 0, 1, 2, 3, 7, -1, -2, 0.5, -0.5, 1e30, -1e30, 0 / 0, math.huge, -math.huge,
  math.maxinteger, math.mininteger, 2 ^ 53, 1e12,
  "", "abc", "mean", "sum", "none", "fan_out", "f.png", "f.csv", "f.json", "no/such/dir/x", "/dev/null/dir/x",
  {}, { 1, 2 }, { 1, 2, 3 }, { { 1, 2 }, { 3, 4 } }, { { 1 }, { 2, 3 } }, { -1, 2 }, { 0 }, { 2, 0 },
  { 1e12, 1e12 }, { 0.5, "a" }, { lr = 0.1 }, { reduction = "sum" }, { reduction = "bogus" }, { stride = 2, padding = 1 },
  { dim = 1 }, { dir = ".", size = 4 }, { n = 7, modes = 3 }, { splits = 2 }, { nrow = 0 }, { size = { 10, 10 } }, { xlim = { 1, 0 } },
  function() return 1 end, function(...) return ... end, function() error("a user error") end,
  coroutine.create(function() end), io.stdout,
  tensor.zeros(1), tensor.randn(3), tensor.randn(2, 3), tensor.randn(3, 2), tensor.randn(2, 3):requires_grad(),
  tensor.randn(1, 1, 4, 4), tensor.randn(2, 3, 5, 5), tensor.zeros(0), tensor.zeros(2, 0), tensor.randn(4),
  tensor.from { 1, 2, 3 }, tensor.from { 0, 1 }, tensor.randn(5, 2), tensor.randn(2, 2, 2), tensor.randn(3, 3):t(),
  tensor.randn(4, 4):narrow(1, 2, 2), tensor.from(2), tensor.full({ 2, 2 }, 0 / 0), tensor.randn(64, 2),
  tensor.rand(2, 1, 28, 28), tensor.randn(3, 784),
  nn.Linear(2, 3), nn.Sequential { nn.Linear(3, 2), nn.ReLU() }, nn.Conv2d(3, 2, 3), nn.BatchNorm1d(3),
}
local npool = 0
for k in pairs(pool) do npool = math.max(npool, k) end -- nil holes are fine: they pass nil

local function pick() return pool[math.random(1, npool + 1)] end -- npool + 1: nil

local function describe(v)
  if tensor.is_tensor(v) then return "T(" .. table.concat(v:size(), "x") .. ")" end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then return rawget(v, "_params") and tostring(getmetatable(v).__name) or "{...}" end
  if type(v) == "function" or type(v) == "thread" or type(v) == "userdata" then return type(v) end
  return tostring(v)
end

------------------------------------------------------------------ targets

local targets = {}
local function add(name, fn) targets[#targets + 1] = { name, fn } end
local function add_module(prefix, t, skip)
  for k, v in pairs(t) do
    if type(v) == "function" and not (skip and skip[k]) then add(prefix .. "." .. k, v) end
  end
end
-- left out: calls that may block, exit or reconfigure the process (cli
-- exits on bad input, repl reads stdin, log.run makes run directories, sys,
-- set_num_threads, sys.spawn/wait and sweep.run start processes)
add_module("tensor", tensor, { set_num_threads = true })
add_module("autograd", autograd)
add_module("nn.init", nn.init)
add_module("nn.utils", nn.utils)
add_module("losses", losses)
add_module("optim", optim)
add_module("data", data)
add_module("metrics", metrics)
add_module("image", image)
add_module("sys", sys, { spawn = true, wait = true })
add_module("sweep", sweep, { run = true })
add_module("plot", plot)
add_module("json", json)
add_module("ckpt", ckpt)
add_module("log", log, { run = true })
for k, v in pairs(nn) do
  if type(v) == "table" and getmetatable(v) and k:match("^%u") then -- the layer classes
    add("nn." .. k, function(...) return v(...) end)
  end
end

-- methods, on receivers made once (calls may change them; that is part of the test)
local function add_methods(what, obj, names)
  for _, m in ipairs(names) do
    if obj[m] then add(what .. ":" .. m, function(...) return obj[m](obj, ...) end) end
  end
end
local module_methods = { "forward", "load_state_dict", "apply", "parameters", "state_dict", "train", "eval",
  "zero_grad", "named_parameters", "add_module", "register_buffer", "register_parameter", "num_parameters" }
for _, m in ipairs { nn.Linear(2, 3), nn.Conv2d(3, 2, 3), nn.BatchNorm2d(3), nn.MinibatchDiscrimination(4, 3, 2),
  nn.Embedding(5, 2), nn.LayerNorm(3), nn.Dropout(0.5), nn.Upsample { scale_factor = 2 }, nn.MaxPool2d(2),
  nn.AvgPool2d(3, 2, 1), nn.AdaptiveAvgPool2d(2), nn.InstanceNorm2d(3), nn.GroupNorm(1, 3), nn.Dropout2d(), nn.GELU(),
  nn.ModuleList { nn.ReLU() }, nn.ModuleDict { a = nn.ReLU() }, nn.BCELoss(), nn.CrossEntropyLoss(), optim.EMA(nn.Linear(2, 2)) } do
  add_methods(m.__name, m, module_methods)
  add(m.__name .. "()", function(...) return m(...) end)
end
local seq = nn.Sequential { nn.Linear(2, 2), nn.Tanh() }
add_methods("Sequential", seq, { "forward", "add", "slice", "apply", "state_dict", "load_state_dict" })
local opt = optim.Adam(nn.Linear(2, 2):parameters())
add_methods("Adam", opt, { "step", "zero_grad", "state_dict", "load_state_dict" })
add_methods("StepLR", optim.lr_scheduler.StepLR(opt, 2), { "step", "state_dict", "load_state_dict", "get_last_lr" })
add("interpolate", nn.functional.interpolate)
add("pad", nn.functional.pad)
add("clip_grad_norm_", nn.utils.clip_grad_norm_)
add("clip_grad_value_", nn.utils.clip_grad_value_)
local ds = data.dataset(tensor.randn(10, 2), tensor.ones(10))
add_methods("Dataset", ds, { "batches", "num_batches", "normalize", "size" })
local anim = image.animation()
add_methods("animation", anim, { "add", "save" })

-- Tensor methods and metamethods, usually with a Tensor receiver
local mt = getmetatable(tensor.zeros(1))
local tensor_methods = {}
if type(mt.__index) == "table" then
  for k, v in pairs(mt.__index) do
    if type(v) == "function" then tensor_methods[#tensor_methods + 1] = k end
  end
end
for _, k in ipairs(tensor_methods) do add("Tensor:" .. k, function(...) return mt.__index[k](...) end) end
for _, k in ipairs { "__add", "__sub", "__mul", "__div", "__pow", "__unm", "__index", "__newindex", "__len", "__eq",
  "__lt", "__le", "__tostring", "__call", "__concat", "__idiv", "__mod" } do
  if mt[k] then add("Tensor." .. k, mt[k]) end
end
table.sort(targets, function(a, b) return a[1] < b[1] end) -- pairs' order varies from run to run

------------------------------------------------------------------- checks

-- An internal error (tests/lua/helpers/internal_error.lua, beside this file)
local internal = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "lua/helpers/internal_error.lua")

--------------------------------------------------------------------- run

local log_file = assert(io.open("fuzz_api.log", "w"))
local silent_print = print
print = function() end -- module:apply(print) and the like would fill stdout
local found, order = {}, {}
local n_ok, n_err = 0, 0
for i = 1, calls do
  local t = targets[math.random(1, #targets)]
  local name, fn = t[1], t[2]
  local n = math.random(0, 4)
  local args = {}
  local first = 1
  if name:match("^Tensor[:.]") and math.random() < 0.85 then -- a Tensor receiver
    repeat args[1] = pick() until tensor.is_tensor(args[1])
    first, n = 2, n + 1
  end
  for j = first, n do args[j] = pick() end
  local d = {}
  for j = 1, n do d[j] = describe(args[j]) end
  local call = string.format("%s(%s)", name, table.concat(d, ", "))
  log_file:write(i, " ", call, "\n")
  log_file:flush()
  local ok, e = pcall(fn, table.unpack(args, 1, n))
  autograd.set_grad_enabled(true) -- some calls turn it off
  if ok then n_ok = n_ok + 1
  else
    n_err = n_err + 1
    if internal(e) then
      local key = name .. ": " .. tostring(e):gsub("0x%x+", "0x")
      if not found[key] then found[key] = call; order[#order + 1] = key end
    end
  end
  if i % 250 == 0 then collectgarbage() end
end
log_file:close()
print = silent_print
for _, key in ipairs(order) do print(string.format("INTERNAL %s  <- %s", key, found[key])) end
print(string.format("fuzz_api: calls=%d ok=%d errors=%d internal=%d", n_ok + n_err, n_ok, n_err, #order))
