-- ganlua.argcheck: the argument checks the stdlib's public functions share
-- (internal; not a global), and the one way the stdlib raises an error.
--
-- argcheck.raise(msg) raises msg at the script's line: the innermost frame
-- outside the stdlib (core.sys.where, the same rule the C bindings use for
-- the runtime's messages). No function counts error levels, so a check can
-- sit at any depth and still point at the line that called ganlua.
-- A failed check raises "<fn>: argument <i> (<name>) must be <what>, got <type>":
--   argcheck.tensor("data.write_csv", 1, x, "x")
--   o = argcheck.opts("data.gaussian_ring", 1, o)
local core = require("ganlua.core")
local T, S = core.tensor, core.sys

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

-- raise(msg): error(msg) at the script's line
function M.raise(msg) error(S.where() .. msg, 0) end

-- strip(msg): msg without the position raise (or a C binding) gave it, so
-- that a caller can add its own context and raise it again
function M.strip(msg)
  msg = tostring(msg)
  local w = S.where()
  if w ~= "" and msg:sub(1, #w) == w then return msg:sub(#w + 1) end
  return msg
end

-- within(prefix, f, ...): f(...), a failure raised again as "prefix: message"
-- (not a tail call, so the caller's results are f's)
function M.within(prefix, f, ...)
  local r = table.pack(pcall(f, ...))
  if not r[1] then M.raise(prefix .. ": " .. M.strip(r[2])) end
  return table.unpack(r, 2, r.n)
end

-- fail(fn, i, name, what, v): raise the message above
function M.fail(fn, i, name, what, v) M.raise(message(fn, i, name, what, v)) end

local function check(ok, fn, i, name, what, v)
  if not ok then M.raise(message(fn, i, name, what, v)) end
end

function M.tensor(fn, i, v, name)
  check(T.is_tensor(v), fn, i, name, "a Tensor", v)
  return v
end

function M.number(fn, i, v, name)
  check(type(v) == "number", fn, i, name, "a number", v)
  return v
end

function M.string(fn, i, v, name)
  check(type(v) == "string", fn, i, name, "a string", v)
  return v
end

-- nil or a table; returns the table ({} for nil)
function M.opts(fn, i, v)
  check(v == nil or type(v) == "table", fn, i, nil, "an options table", v)
  return v or {}
end

-- a function, or a table or userdata with __call (a module)
function M.is_callable(v)
  if type(v) == "function" then return true end
  local mt = (type(v) == "table" or type(v) == "userdata") and getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

function M.callable(fn, i, v, name)
  check(M.is_callable(v), fn, i, name, "a function or a module", v)
  return v
end

-- an nn.Module instance
function M.is_module(v)
  return type(v) == "table" and rawget(v, "_params") ~= nil and rawget(v, "_children") ~= nil
end

function M.module(fn, i, v, name)
  check(M.is_module(v), fn, i, name, "an nn.Module", v)
  return v
end


return M
