-- ganlua.dist: several processes working as one over MPI, and the same
-- script as one process without it.
--
--   dist.rank(), dist.size()            -- 0-based rank, number of ranks
--   dist.allreduce(t [, "sum"|"mean"|"max"|"min"])   -- in place; a list of tensors is one message
--   dist.broadcast(t [, root = 0])      -- root's values into t on every rank
--   dist.gather(value [, root = 0])     -- {value of rank 0, ...} on root, nil elsewhere
--   dist.broadcast_value(v [, root])    -- root's Lua value on every rank
--   dist.sum(t)                         -- a new tensor, the sum over ranks, differentiable
--   dist.counter()                      -- c:next() -> 1, 2, ... shared by all ranks
--   dist.average_gradients(params)      -- after backward: every rank holds the mean gradient
--   dist.broadcast_parameters(params)   -- rank 0's parameters everywhere
--
-- Started by `mpirun -np N ganlua script.lua` (or srun), each process
-- finds itself launched (OpenMPI's OMPI_COMM_WORLD_SIZE, PMIx's
-- PMIX_RANK, PMI's PMI_RANK) and loads the MPI backend, ganlua_mpi.so
-- (bindings/mpi/), at the first call here; started alone it is rank 0 of
-- 1 and no MPI library is touched, so `make` and every script work on a
-- machine without MPI. Values travel as float32 tensors (reductions) or
-- JSON (gather, broadcast_value: small Lua values).
local core = require "ganlua.core"
local json = require "ganlua.json"
local argcheck = require "ganlua.argcheck"
local T = require "ganlua.tensor"
local autograd = require "ganlua.autograd"

local dist = {}

local LAUNCH_VARS = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK" }

-- launched() -> true when an MPI launcher started this process
function dist.launched()
  for _, v in ipairs(LAUNCH_VARS) do if os.getenv(v) then return true end end
  return false
end

-- the variables a launcher set, which a child process must not inherit
-- (it would take itself for one of the ranks): sweep.run removes them
function dist.launch_env()
  local names = {}
  for _, k in ipairs(core.sys.env_names()) do
    if k:match("^OMPI_") or k:match("^PMIX_") or k:match("^PMI_") or k:match("^OPAL_") or k:match("^PRTE_") then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  return names
end

-- one rank: every collective is the identity
local single = {
  rank = 0, size = 1,
  barrier = function() end,
  allreduce = function() end,
  broadcast = function() end,
  gather = function(s) return { s } end,
  bcast_string = function(s) return s end,
  counter = function()
    local n = 0
    return { next = function() local k = n; n = n + 1; return k end, free = function() end }
  end,
}

local function plugin_path()
  local tried = {}
  local function ok(p)
    tried[#tried + 1] = p
    local f = io.open(p, "rb")
    if f then f:close(); return true end
    return false
  end
  local env = os.getenv("GANLUA_MPI")
  if env then
    if ok(env) then return env end
    argcheck.raise("dist: GANLUA_MPI names " .. env .. ", which does not exist")
  end
  local exe = rawget(_G, "ganlua") and rawget(_G, "ganlua").executable
  if type(exe) == "string" then
    local p = (exe:match("^(.*)/[^/]*$") or ".") .. "/ganlua_mpi.so"
    if ok(p) then return p end
  end
  local p = package.searchpath("ganlua_mpi", package.cpath)
  if p then return p end
  tried[#tried + 1] = "package.cpath"
  argcheck.raise("dist: this process was started by an MPI launcher but the MPI backend ganlua_mpi.so is not built "
    .. "(looked in " .. table.concat(tried, ", ") .. "; `make` builds it with Debian's libopenmpi-dev)")
end

local B -- the backend, chosen at the first call
local function backend()
  if B then return B end
  if not dist.launched() then
    B = single
    return B
  end
  local path = plugin_path()
  local open, err = package.loadlib(path, "luaopen_ganlua_mpi")
  if not open then argcheck.raise("dist: cannot load " .. path .. ": " .. tostring(err)) end
  local m = open()
  local rank, size = m.init(core.plugin_api)
  B = setmetatable({ rank = rank, size = size }, { __index = m })
  return B
end

function dist.rank() return backend().rank end
function dist.size() return backend().size end
function dist.is_main() return backend().rank == 0 end
function dist.barrier() backend().barrier() end

local function tensors(fn, t)
  if T.is_tensor(t) then return { t }, t end
  if type(t) ~= "table" then argcheck.fail(fn, 1, "t", "a tensor or a list of tensors", t) end
  for i, x in ipairs(t) do
    if not T.is_tensor(x) then argcheck.raise(string.format("%s: entry %d of the list is a %s, not a tensor", fn, i, argcheck.typename(x))) end
  end
  return t, t
end

local function root_of(fn, root)
  root = root == nil and 0 or root
  if math.type(root) ~= "integer" then argcheck.fail(fn, 2, "root", "an integer rank", root) end
  local size = backend().size
  if root < 0 or root >= size then argcheck.raise(string.format("%s: root %d is not a rank (0..%d)", fn, root, size - 1)) end
  return root
end

local OPS = { sum = true, mean = true, max = true, min = true }

-- allreduce(t [, op = "sum"]) -> t: the elementwise op over every rank's t,
-- in place on each (a list of tensors goes as one message)
function dist.allreduce(t, op)
  local list, ret = tensors("dist.allreduce", t)
  op = op or "sum"
  if not OPS[op] then argcheck.raise("dist.allreduce: op must be sum, mean, max or min, got " .. tostring(op)) end
  local b = backend()
  if b.size == 1 then return ret end
  b.allreduce(list, op == "mean" and "sum" or op)
  if op == "mean" then
    autograd.no_grad(function() for _, x in ipairs(list) do x:mul_(1 / b.size) end end)
  end
  return ret
end

-- sum(t) -> a new tensor, t summed over every rank, recorded by autograd:
-- its gradient is the sum over ranks of the incoming gradients, so a
-- backward through it runs the same collective on every rank (as
-- nn.SyncBatchNorm's batch statistics need); all ranks must call it alike
function dist.sum(t)
  if not T.is_tensor(t) then argcheck.fail("dist.sum", 1, "t", "a tensor", t) end
  local b = backend()
  if b.size == 1 then return t:clone() end
  return b.sum(t)
end

-- broadcast(t [, root = 0]) -> t holding root's values on every rank
function dist.broadcast(t, root)
  local list, ret = tensors("dist.broadcast", t)
  root = root_of("dist.broadcast", root)
  local b = backend()
  if b.size > 1 then b.broadcast(list, root) end
  return ret
end

local function encode(fn, v)
  local ok, s = pcall(json.encode, v)
  if not ok then argcheck.raise(fn .. ": " .. argcheck.strip(s)) end
  return s
end

-- gather(value [, root = 0]) -> the list of every rank's value (in rank
-- order) on root, nil on the others
function dist.gather(value, root)
  root = root_of("dist.gather", root)
  local b = backend()
  if b.size == 1 then return { value } end
  local all = b.gather(encode("dist.gather", value), root)
  if not all then return nil end
  for i, s in ipairs(all) do all[i] = json.decode(s) end
  return all
end

-- broadcast_value(v [, root = 0]) -> root's v on every rank
function dist.broadcast_value(v, root)
  root = root_of("dist.broadcast_value", root)
  local b = backend()
  if b.size == 1 then return v end
  return json.decode(b.bcast_string(b.rank == root and encode("dist.broadcast_value", v) or nil, root))
end

-- counter() -> c: c:next() returns 1, 2, 3, ... with every number taken
-- by exactly one rank, as each asks (dynamic assignment of jobs);
-- made and freed (c:free()) by all ranks together
function dist.counter()
  local c = backend().counter()
  return {
    next = function() return c:next() + 1 end,
    free = function() c:free() end,
  }
end

local function param_list(fn, params)
  if type(params) == "table" and type(params.parameters) == "function" then params = params:parameters() end
  if type(params) ~= "table" then argcheck.fail(fn, 1, "params", "a module or a list of parameters", params) end
  return params
end

-- average_gradients(module | params): after backward on each rank's own
-- shard of the batch, every rank's .grad holds the mean over ranks (one
-- message for all of them); a parameter must have a gradient on every
-- rank or on none
function dist.average_gradients(params)
  params = param_list("dist.average_gradients", params)
  local b = backend()
  if b.size == 1 then return end
  local grads = {}
  for _, p in ipairs(params) do if p.grad then grads[#grads + 1] = p.grad end end
  dist.allreduce(grads, "mean")
end

-- broadcast_parameters(module | params [, root = 0]): root's values (and
-- a module's buffers, BatchNorm's running statistics) on every rank, so
-- that all start from the same model
function dist.broadcast_parameters(params, root)
  local list = param_list("dist.broadcast_parameters", params)
  local all = {}
  for _, p in ipairs(list) do all[#all + 1] = p end
  if type(params.named_buffers) == "function" then for _, kv in ipairs(params:named_buffers()) do all[#all + 1] = kv[2] end end
  autograd.no_grad(function() dist.broadcast(all, root) end)
end

return dist
