-- ganlua.repl: the interactive loop, in Lua so one implementation serves
-- the top level (`ganlua`, `ganlua -i script.lua`), `repl()` called from
-- a running script, and Ctrl-\ pressed during a run.
--
-- Inside a script, repl() (or Ctrl-\) opens a prompt whose variables are
-- the interrupted function's locals and upvalues: inspect `D(real):mean()`,
-- set `opt.lambda = 5` or `lr = 1e-5`, then type `cont` (or Ctrl-D) to
-- resume; assignments to locals are written back. `locals()` lists them.
local core = require "ganlua.core"
local T = core.tensor

local repl = {}

local function term() return rawget(_G, "ganlua") and ganlua.term end

local function read(prompt)
  local t = term()
  if t then return t.readline(prompt) end
  io.write(prompt)
  io.flush()
  return io.read("l")
end

local function add_history(line)
  local t = term()
  if t then t.add_history(line) end
end

-- run f(...) catching errors (and Ctrl-C, in the executable)
local function protect(f, ...)
  local t = term()
  if t then return t.protect(f, ...) end
  return xpcall(f, debug.traceback, ...)
end

---------------------------------------------------------------- printing

-- tostring that cannot raise: a value whose __tostring fails (or returns a
-- non-string) is shown as such instead of ending the session
local function safe_tostring(v)
  local ok, r = pcall(tostring, v)
  if ok and type(r) == "string" then return r end
  return string.format("<%s whose __tostring %s>", type(v), ok and ("returned a " .. type(r)) or ("failed: " .. tostring(r)))
end

local function short(v)
  if T.is_tensor(v) then
    local s = safe_tostring(v)
    if #s > 80 then
      local ok, size = pcall(v.size, v)
      return "tensor(size=" .. (ok and table.concat(size, "x") or "?") .. ")"
    end
    return s
  end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    local mt = getmetatable(v)
    if mt and mt.__tostring then return (safe_tostring(v):gsub("\n.*", " ...")) end
    return "{...}"
  end
  return safe_tostring(v)
end

-- One value as the REPL shows it: tensors and modules by their own
-- printing, tables shallowly (first 20 entries), the rest by tostring.
function repl.show(v)
  if type(v) ~= "table" then return T.is_tensor(v) and safe_tostring(v) or (type(v) == "string" and string.format("%q", v) or safe_tostring(v)) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return safe_tostring(v) end
  local parts, n = {}, 0
  local len = #v
  for i = 1, len do
    n = n + 1
    if n > 20 then break end
    parts[#parts + 1] = short(v[i])
  end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= len) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return safe_tostring(a) < safe_tostring(b) end)
  for _, k in ipairs(keys) do
    n = n + 1
    if n > 20 then break end
    local key = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k or "[" .. short(k) .. "]"
    parts[#parts + 1] = key .. " = " .. short(v[k])
  end
  local total = len + #keys
  if total > 20 then parts[#parts + 1] = string.format("... (%d entries)", total) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-------------------------------------------------------------- completion

local function keys_of(v, out, seen)
  seen = seen or {}
  if type(v) == "table" and not seen[v] then
    seen[v] = true
    for k in pairs(v) do if type(k) == "string" then out[k] = true end end
    local mt = getmetatable(v)
    if mt and type(mt.__index) == "table" then keys_of(mt.__index, out, seen) end
  elseif T.is_tensor(v) then
    for k in pairs(T.methods) do out[k] = true end
    for _, k in ipairs { "grad", "grad_fn", "is_leaf", "shape" } do out[k] = true end
  end
  return out
end

-- complete("tensor.ra", env) -> {"tensor.rand", "tensor.randint", ...}
function repl.complete(text, env)
  env = env or _G
  local base, sep, part = text:match("^(.-)([.:])([%w_]*)$")
  local value, prefix
  if base then
    value = env
    for name in base:gmatch("[^.]+") do
      if not name:match("^[%a_][%w_]*$") then return {} end
      local ok, v = pcall(function() return value[name] end)
      if not ok or v == nil then return {} end
      value = v
    end
    prefix = base .. sep
  else
    value, prefix, part = env, "", text
  end
  local names = keys_of(value, {})
  if not base then
    keys_of(_G, names)
    for _, kw in ipairs { "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
                          "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while" } do
      names[kw] = true
    end
  end
  local out = {}
  for k in pairs(names) do
    if k:sub(1, #part) == part and not k:match("^__") then
      local v = nil
      pcall(function() v = value[k] end)
      out[#out + 1] = prefix .. k .. ((sep == ":" or type(v) == "function") and "(" or "")
    end
  end
  table.sort(out)
  return out
end

-------------------------------------------------------------------- loop

-- run([env [, {prompt =, nested =}]]): read-eval-print until end of input
-- (or `cont` when nested). Expressions print their values; incomplete
-- input continues on the next line; errors print and the loop goes on.
function repl.run(env, o)
  env = env or _G
  o = o or {}
  local prompt = o.prompt or "> "
  local t = term()
  if t then t.set_completer(function(text) return repl.complete(text, env) end) end
  while true do
    local line = read(prompt)
    if not line then io.write("\n") break end
    if o.nested and line:match("^%s*cont%s*$") then break end
    local chunk, err = load("return " .. line, "=stdin", "t", env)
    local src = line
    if not chunk then
      chunk, err = load(src, "=stdin", "t", env)
      while not chunk and err:match("<eof>$") do
        local more = read(">> ")
        if not more then break end
        src = src .. "\n" .. more
        chunk, err = load(src, "=stdin", "t", env)
      end
    end
    add_history(src)
    if chunk then
      local res = table.pack(protect(chunk))
      if res[1] then
        for i = 2, res.n do
          -- showing a value runs its metamethods (__tostring, __pairs,
          -- __len, __index): one that raises is reported, never fatal
          local ok, shown = pcall(repl.show, res[i])
          if not ok then shown = string.format("<%s that cannot be shown: %s>", type(res[i]), safe_tostring(shown)) end
          io.write(shown, i < res.n and "\t" or "\n")
        end
      else
        -- the traceback down to the typed chunk, not the REPL's own frames
        local msg = safe_tostring(res[2]):gsub("\n%s*%[C%]: in field 'protect'.*$", "")
        io.stderr:write(msg, "\n")
      end
    else
      io.stderr:write(err, "\n")
    end
    io.flush()
  end
end

-- The variables of the function `level` levels above the caller, as an
-- environment: reads see locals, then upvalues, then globals; writes to
-- a local or upvalue are remembered and written back by the caller.
local function frame_env(level)
  level = level + 1
  local vars, slots, ups = {}, {}, {}
  local i = 1
  while true do
    local name, v = debug.getlocal(level, i)
    if not name then break end
    if not name:match("^%(") then vars[name] = v; slots[name] = i end
    i = i + 1
  end
  local info = debug.getinfo(level, "fSl")
  local fn = info and info.func
  if fn then
    local u = 1
    while true do
      local name, v = debug.getupvalue(fn, u)
      if not name then break end
      if name ~= "_ENV" and slots[name] == nil then vars[name] = v; ups[name] = u end
      u = u + 1
    end
  end
  local dirty = {}
  local env = setmetatable({}, {
    __index = function(_, k)
      if k == "locals" then
        return function() local c = {} for n, v in pairs(vars) do c[n] = v end return c end
      end
      if k == "vars" then return vars end
      local v = vars[k]
      if v ~= nil then return v end
      return _G[k]
    end,
    __newindex = function(_, k, v)
      if slots[k] or ups[k] then vars[k] = v; dirty[k] = true else _G[k] = v end
    end,
  })
  local function write_back(lvl)
    lvl = lvl + 1
    for k in pairs(dirty) do
      if slots[k] then debug.setlocal(lvl, slots[k], vars[k]) else debug.setupvalue(fn, ups[k], vars[k]) end
    end
  end
  local where = info and string.format("%s:%d", info.short_src, info.currentline or 0) or "?"
  return env, write_back, where
end

-- The top-level prompt (`ganlua`, `ganlua -i script.lua`). After a script
-- run with -i, its top-level locals (those in scope at its end, or at the
-- error that stopped it; the executable copies them into
-- ganlua.script_locals) are variables here, ahead of the globals;
-- assigning to one changes the copy.
function repl.top()
  local locals = rawget(_G, "ganlua") and rawget(ganlua, "script_locals")
  if type(locals) ~= "table" then return repl.run() end
  local names = {}
  for k in pairs(locals) do names[#names + 1] = k end
  table.sort(names)
  io.write("-- the script's locals are variables here: ", #names > 0 and table.concat(names, " ") or "(none)", "\n")
  local env = setmetatable({}, {
    __index = function(_, k)
      if k == "locals" then return function() local c = {} for n, v in pairs(locals) do c[n] = v end return c end end
      local v = locals[k]
      if v ~= nil then return v end
      return _G[k]
    end,
    __newindex = function(_, k, v) if locals[k] ~= nil then locals[k] = v else _G[k] = v end end,
    __pairs = function() local all = {} for k, v in pairs(_G) do all[k] = v end for k, v in pairs(locals) do all[k] = v end return next, all, nil end,
  })
  return repl.run(env)
end

-- repl() from a script: a prompt inside the caller, `cont` resumes.
function repl.enter()
  local env, write_back, where = frame_env(2)
  io.write(string.format("-- repl at %s: locals and upvalues are variables; locals() lists them; `cont` resumes\n", where))
  repl.run(env, { prompt = "repl> ", nested = true })
  write_back(2)
end

-- Ctrl-\ during a run: the C hook calls this while the interrupted Lua
-- function is the next frame up.
function repl.break_in()
  local env, write_back, where = frame_env(2)
  io.write(string.format("\n-- interrupted at %s (Ctrl-\\): locals() lists variables; `cont` resumes\n", where))
  repl.run(env, { prompt = "repl> ", nested = true })
  write_back(2)
end

return repl
