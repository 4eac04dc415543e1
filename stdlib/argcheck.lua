-- ganlua.argcheck: the argument checks the stdlib's public functions share
-- (internal; not a global). A failed check raises
--   "<fn>: argument <i> (<name>) must be <what>, got <type>"
-- at `level`, counted as error() counts it from the public function that
-- calls the check: 2 (the default) is that function's caller.
--   argcheck.tensor("data.write_csv", 1, x, "x")
--   o = argcheck.opts("data.gaussian_ring", 1, o)
local T = require("ganlua.core").tensor

local M = {}

-- a value's type as Lua's own messages name it: "Tensor", a module's class
-- ("Linear"), otherwise type(v)
function M.typename(v)
  if T.is_tensor(v) then return "Tensor" end
  if type(v) == "table" then
    local mt = getmetatable(v)
    if type(mt) == "table" and type(rawget(mt, "__name")) == "string" then return rawget(mt, "__name") end
  end
  return type(v)
end

local function message(fn, i, name, what, v)
  local which = name and string.format("argument %d (%s)", i, name) or "argument " .. i
  return string.format("%s: %s must be %s, got %s", fn, which, what, M.typename(v))
end

-- fail(fn, i, name, what, v [, level]): raise the message above
function M.fail(fn, i, name, what, v, level)
  error(message(fn, i, name, what, v), (level or 2) + 1)
end

-- the checks below raise from inside check, two frames below the function
-- that called them (neither may be a tail call, which would drop a frame)
local function check(ok, fn, i, name, what, v, level)
  if not ok then error(message(fn, i, name, what, v), (level or 2) + 2) end
end

function M.tensor(fn, i, v, name, level)
  check(T.is_tensor(v), fn, i, name, "a Tensor", v, level)
  return v
end

function M.number(fn, i, v, name, level)
  check(type(v) == "number", fn, i, name, "a number", v, level)
  return v
end

function M.string(fn, i, v, name, level)
  check(type(v) == "string", fn, i, name, "a string", v, level)
  return v
end

-- nil or a table; returns the table ({} for nil)
function M.opts(fn, i, v, level)
  check(v == nil or type(v) == "table", fn, i, nil, "an options table", v, level)
  return v or {}
end

-- a function, or a table or userdata with __call (a module)
function M.is_callable(v)
  if type(v) == "function" then return true end
  local mt = (type(v) == "table" or type(v) == "userdata") and getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

function M.callable(fn, i, v, name, level)
  check(M.is_callable(v), fn, i, name, "a function or a module", v, level)
  return v
end

-- an nn.Module instance
function M.is_module(v)
  return type(v) == "table" and rawget(v, "_params") ~= nil and rawget(v, "_children") ~= nil
end

function M.module(fn, i, v, name, level)
  check(M.is_module(v), fn, i, name, "an nn.Module", v, level)
  return v
end

-- call(level, f, ...): f(...) (a C function), its error re-raised at level
-- so that it points at the caller of the public function, not at the stdlib.
-- Not as a tail call: `return (argcheck.call(...))` keeps the caller's frame.
function M.call(level, f, ...)
  local r = table.pack(pcall(f, ...))
  if not r[1] then error(r[2], level + 1) end
  return table.unpack(r, 2, r.n)
end

return M
