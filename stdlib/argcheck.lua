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


--------------------------------------------------------------- names

local function edit_distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- suggest(name, names) -> the name in the list closest to `name` (within a
-- few edits, else the only one it is a prefix of), or nil: the "did you
-- mean" of cli.options and of every options table
function M.suggest(name, names)
  local sorted = {}
  for _, k in ipairs(names) do sorted[#sorted + 1] = k end
  table.sort(sorted)
  local best, bd = nil, math.huge
  for _, k in ipairs(sorted) do
    local d = edit_distance(name, k)
    if d < bd then best, bd = k, d end
  end
  if best and bd <= math.max(2, #name // 3) then return best end
  local hit
  for _, k in ipairs(sorted) do
    if k:sub(1, #name) == name then
      if hit then return nil end
      hit = k
    end
  end
  return hit
end

--------------------------------------------------------------- ranges

-- range(noun, {min=, max=, positive=, below=}) -> check(x) -> nil or a
-- reason ("expected a number >= 0"), and the range as text (">= 0"), for
-- cli.options and every options table: numbers are finite unless
-- finite = false
function M.range(integer, r)
  local noun = integer and "integer" or "number"
  local a = integer and "an " or "a "
  local lo, hi, below, pos = r.min, r.max, r.below, r.positive
  local text = (lo and ">= " .. tostring(lo)) or (pos and "> 0") or nil
  if hi then text = (text and text .. " and " or "") .. "<= " .. tostring(hi) end
  if below then text = (text and text .. " and " or "") .. "< " .. tostring(below) end
  local finite = r.finite ~= false
  return function(x)
    if x ~= x then return "expected " .. a .. noun .. " (not NaN)" end
    if finite and (x == math.huge or x == -math.huge) then return "expected a finite number" end
    if pos and not (x > 0) then return "expected a positive " .. noun end
    if lo and x < lo then return string.format("expected %s%s >= %s", a, noun, tostring(lo)) end
    if hi and x > hi then return string.format("expected %s%s <= %s", a, noun, tostring(hi)) end
    if below and not (x < below) then return string.format("expected %s%s < %s", a, noun, tostring(below)) end
  end, text
end

-------------------------------------------------------------- options

-- Options tables are declared, not trusted: each key with its default and
-- its kind and range, as PyTorch's constructors check theirs.
--   local ADAM = argcheck.options("Adam", {
--     lr = { 1e-3, min = 0 },                          -- a number (the default's kind), >= 0
--     betas = { { 0.9, 0.999 }, kind = "numbers", n = 2, min = 0, below = 1 },
--     amsgrad = { false },
--     mode = { "nearest", choices = { "nearest", "bilinear" } },
--     weight = { nil, kind = "tensor" },               -- no default
--   })
--   local o = ADAM:check(opts)  -- a new table, defaults filled; raises on
--                               -- an unknown key (with a did-you-mean) or a bad value
-- Kinds: number, integer, boolean, string, tensor, function, table, numbers
-- (a list of n numbers), int_pair (an integer or {h, w}), any. Numbers
-- take min, max, below, positive (finite unless finite = false); strings
-- choices; any kind check = function(v) -> nil or a reason. A key may be
-- declared nil-able with optional = true even when it has a default.
-- Declarations are kept by name in argcheck.declared, for help().
M.declared = {}

local KINDS = { number = "a number", integer = "an integer", boolean = "true or false", string = "a string",
                tensor = "a Tensor", ["function"] = "a function", table = "a table", numbers = "a list of numbers",
                int_pair = "an integer or a pair {h, w} of them", any = "any value" }

local function kind_of(v)
  if math.type(v) == "integer" then return "integer" end
  if type(v) == "number" then return "number" end
  if T.is_tensor(v) then return "tensor" end
  return type(v)
end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = show(x) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  if T.is_tensor(v) then return "a " .. table.concat(v:size(), "x") .. " Tensor" end
  return tostring(v)
end
M.show = show

-- not_one_of(v, choices [, show]) -> nil when v is among the choices, else
-- the choices as text ("a, b, c"), for the message (cli.options and every
-- options table)
function M.not_one_of(v, choices, shown)
  for _, c in ipairs(choices) do if c == v then return nil end end
  local cs = {}
  for i, c in ipairs(choices) do cs[i] = (shown or tostring)(c) end
  return table.concat(cs, ", ")
end

local Decl = {}
Decl.__index = Decl

function M.options(fn, spec)
  local d = setmetatable({ fn = fn, keys = {}, entries = {} }, Decl)
  for k, e in pairs(spec) do
    if type(e) ~= "table" then e = { e } end
    local kind = e.kind or kind_of(e[1])
    if not KINDS[kind] then error(string.format("argcheck.options(%s): key %s has no kind", fn, k), 2) end
    local x = { key = k, default = e[1], kind = kind, choices = e.choices, check = e.check, n = e.n, desc = e[2] }
    if kind == "number" or kind == "integer" or kind == "numbers" or kind == "int_pair" then
      x.range, x.range_text = M.range(kind == "integer" or kind == "int_pair", e)
    end
    d.entries[k] = x
    d.keys[#d.keys + 1] = k
  end
  table.sort(d.keys)
  M.declared[fn] = d
  return d
end

-- the reason v is not a valid value for entry x, or nil
local function judge(x, v)
  local kind = x.kind
  if kind == "any" then return x.check and x.check(v) end
  if kind == "number" or kind == "integer" then
    if type(v) ~= "number" or (kind == "integer" and math.tointeger(v) == nil and v == v) then
      return "expected " .. KINDS[kind] .. ", got " .. (type(v) == "number" and show(v) or M.typename(v))
    end
    local r = x.range(v)
    if r then return r .. ", got " .. show(v) end
  elseif kind == "numbers" or kind == "int_pair" then
    local list = type(v) == "table" and v or (kind == "int_pair" and { v, v }) or nil
    local ok = list ~= nil and (x.n == nil or #list == x.n) and (kind ~= "int_pair" or #list == 2)
    for i = 1, ok and #list or 0 do
      local e = list[i]
      if type(e) ~= "number" or (kind == "int_pair" and math.tointeger(e) == nil) then ok = false; break end
    end
    if not ok then
      local what = kind == "int_pair" and KINDS.int_pair or (x.n and string.format("a list of %d numbers", x.n) or KINDS.numbers)
      return "expected " .. what .. ", got " .. (type(v) == "table" and show(v) or M.typename(v))
    end
    for _, e in ipairs(list) do
      local r = x.range(e)
      if r then return r .. (type(v) == "table" and " in each entry" or "") .. ", got " .. show(v) end
    end
  elseif kind == "tensor" then
    if not T.is_tensor(v) then return "expected a Tensor, got " .. M.typename(v) end
  elseif kind == "function" then
    if not M.is_callable(v) then return "expected a function, got " .. M.typename(v) end
  elseif type(v) ~= kind then
    return "expected " .. KINDS[kind] .. ", got " .. M.typename(v)
  end
  if x.choices then
    local listed = M.not_one_of(v, x.choices, show)
    if listed then return string.format("expected one of %s, got %s", listed, show(v)) end
  end
  if x.check then return x.check(v) end
end

-- D:value(key, v [, fn]): v checked as key's value (raises naming fn, by
-- default the declaration's, and the key)
function Decl:value(k, v, fn)
  local x = self.entries[k]
  local why = judge(x, v)
  if why then M.raise(string.format("%s: option %s: %s", fn or self.fn, k, why)) end
  if x.kind == "number" then return v + 0.0 end
  if x.kind == "integer" then return math.tointeger(v) end
  return v
end

-- D:check(o [, i [, fn]]) -> a new table with every declared key (defaults
-- filled); o is nil or a table (argument i, for the message, of fn: by
-- default the declaration's name)
function Decl:check(o, i, fn)
  fn = fn or self.fn
  if o ~= nil and type(o) ~= "table" then
    M.raise(string.format("%s: argument %d must be an options table, got %s", fn, i or 1, M.typename(o)))
  end
  o = o or {}
  for k in pairs(o) do
    if type(k) ~= "string" or not self.entries[k] then
      local hint = type(k) == "string" and M.suggest(k, self.keys)
      M.raise(string.format("%s: unknown option %s%s (options: %s)", fn, type(k) == "string" and "'" .. k .. "'" or show(k),
        hint and string.format(" (did you mean '%s'?)", hint) or "", table.concat(self.keys, ", ")))
    end
  end
  local r = {}
  for _, k in ipairs(self.keys) do
    local v = o[k]
    if v == nil then r[k] = self.entries[k].default else r[k] = self:value(k, v, fn) end
  end
  return r
end

-- D:help() -> "lr = 0.001 (>= 0), betas = {0.9, 0.999} (>= 0 and < 1), ..."
function Decl:help()
  local parts = {}
  for _, k in ipairs(self.keys) do
    local x = self.entries[k]
    local s = k .. " = " .. (x.default ~= nil and show(x.default) or "nil")
    local notes = {}
    if x.range_text then notes[#notes + 1] = x.range_text end
    if x.choices then
      local cs = {}
      for i, c in ipairs(x.choices) do cs[i] = show(c) end
      notes[#notes + 1] = table.concat(cs, "|")
    end
    if x.default == nil then notes[#notes + 1] = KINDS[x.kind] end
    if #notes > 0 then s = s .. " (" .. table.concat(notes, "; ") .. ")" end
    parts[#parts + 1] = s
  end
  return table.concat(parts, ", ")
end

return M
