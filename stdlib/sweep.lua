-- ganlua.sweep: many runs of a script, and what a sweep says about them.
--
--   local axes = sweep.grid("lr=1e-4,1e-3 epochs=200,1000", { lr = "number", epochs = "integer" })
--   for _, pt in ipairs(sweep.points(axes)) do ... sweep.point_name(pt) ... end
--   sweep.run({ { argv = { ganlua.executable, "scripts/toy_gan.lua", "--seed", "0" },
--                 env = { OPENBLAS_NUM_THREADS = "1" }, output = "runs/x/seed0.log" }, ... },
--             { parallel = 2 })
--   local m, sd, n = sweep.stats({ 6, 7, 0 / 0 })       -- NaN entries are left out
--   sweep.mean_sd({ 6, 7 }, "%.1f")                       -- "6.5 ± 0.7"
--
-- Jobs run as child processes (sys.spawn), `parallel` at a time; a slot is
-- refilled as soon as any job ends, so fast jobs never wait for slow ones.
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local json = require "ganlua.json"
local S = core.sys

local sweep = {}

-- a point: a list of {key, value} pairs (what sweep.points makes)
local function point_arg(fn, p)
  local ok = type(p) == "table"
  for i = 1, ok and #p or 0 do
    local kv = p[i]
    ok = ok and type(kv) == "table" and type(kv[1]) == "string" and (type(kv[2]) == "string" or type(kv[2]) == "number")
  end
  if not ok then argcheck.fail(fn, 1, "point", "a list of {key, value} pairs", p) end
  return p
end
local function list_arg(fn, i, v, name)
  if type(v) ~= "table" then argcheck.fail(fn, i, name, "a list", v) end
  return v
end

-- grid(text, keys) -> axes, or nil, message: text is space-separated
-- key=v1,v2,... items; keys maps each allowed key to "number" or
-- "integer" (values must be positive). axes keeps the order given:
-- { {key = "lr", values = {"1e-4", "1e-3"}}, ... } (values as written,
-- so that run directories and flags show them as the user did).
function sweep.grid(text, keys)
  argcheck.string("sweep.grid", 1, text, "text")
  local kinds_ok = type(keys) == "table" and next(keys) ~= nil
  for k, v in pairs(type(keys) == "table" and keys or {}) do
    kinds_ok = kinds_ok and type(k) == "string" and (v == "number" or v == "integer")
  end
  if not kinds_ok then argcheck.fail("sweep.grid", 2, "keys", 'a table of key = "number" | "integer"', keys) end
  local names = {}
  for k in pairs(keys) do names[#names + 1] = k end
  table.sort(names)
  local axes = {}
  for item in text:gmatch("%S+") do
    local k, vs = item:match("^([%w_%-]+)=(.+)$")
    k = k and k:gsub("%-", "_")
    if not k or not keys[k] then
      return nil, string.format("'%s' is not key=v1,v2,... with a key among %s", item, table.concat(names, ", "))
    end
    local vals = {}
    for w in vs:gmatch("[^,]+") do
      local x = tonumber(w)
      if not x or (keys[k] == "integer" and math.tointeger(x) == nil) or not (x > 0) or x == math.huge then
        return nil, string.format("%s value '%s' must be a positive %s", k, w, keys[k])
      end
      vals[#vals + 1] = w
    end
    axes[#axes + 1] = { key = k, values = vals }
  end
  return axes
end

-- points(axes [, reaches]) -> the product of the axes as a list of points
-- { {key, value}, ... }; reaches(key), when given, drops the axes it is
-- false for (a key that does not reach a variant is not repeated for it).
-- No axes: one empty point.
function sweep.points(axes, reaches)
  list_arg("sweep.points", 1, axes, "axes")
  for i, ax in ipairs(axes) do
    if type(ax) ~= "table" or type(ax.key) ~= "string" or type(ax.values) ~= "table" then
      argcheck.raise(string.format("sweep.points: axis %d is not {key = name, values = {...}} (what sweep.grid makes)", i))
    end
  end
  if reaches ~= nil then argcheck.callable("sweep.points", 2, reaches, "reaches") end
  local pts = { {} }
  for _, ax in ipairs(axes) do
    if not reaches or reaches(ax.key) then
      local nxt = {}
      for _, p in ipairs(pts) do
        for _, x in ipairs(ax.values) do
          local q = { table.unpack(p) }
          q[#q + 1] = { ax.key, x }
          nxt[#nxt + 1] = q
        end
      end
      pts = nxt
    end
  end
  return pts
end

function sweep.has(point, key)
  point_arg("sweep.has", point)
  for _, kv in ipairs(point) do if kv[1] == key then return true end end
  return false
end

-- "lr=1e-4 epochs=1000" ("" for the empty point)
function sweep.point_name(point)
  point_arg("sweep.point_name", point)
  local t = {}
  for _, kv in ipairs(point) do t[#t + 1] = kv[1] .. "=" .. kv[2] end
  return table.concat(t, " ")
end

-- "_lr1e-4_epochs1000", for directory names
function sweep.point_dir(point)
  point_arg("sweep.point_dir", point)
  local t = {}
  for _, kv in ipairs(point) do t[#t + 1] = "_" .. kv[1] .. kv[2] end
  return table.concat(t)
end

-- { "--lr", "1e-4", "--epochs", "1000" }: the point as command-line flags
function sweep.point_flags(point)
  point_arg("sweep.point_flags", point)
  local t = {}
  for _, kv in ipairs(point) do
    t[#t + 1] = "--" .. kv[1]:gsub("_", "-")
    t[#t + 1] = kv[2]
  end
  return t
end

-- a shell-quoted command line for a job (for a record of what ran)
function sweep.command_line(job)
  if type(job) ~= "table" or type(job.argv) ~= "table" then argcheck.fail("sweep.command_line", 1, "job", "a job {argv = {...}}", job) end
  if job.env ~= nil and type(job.env) ~= "table" then argcheck.raise("sweep.command_line: env must be a table") end
  local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
  local parts = {}
  local env = {}
  for k, v in pairs(job.env or {}) do env[#env + 1] = k .. "=" .. q(v) end
  table.sort(env)
  for _, e in ipairs(env) do parts[#parts + 1] = e end
  for _, a in ipairs(job.argv) do parts[#parts + 1] = q(a) end
  if job.output then parts[#parts + 1] = "> " .. q(job.output) .. " 2>&1" end
  return table.concat(parts, " ")
end

local RUN_OPTS = argcheck.options("sweep.run", { parallel = { 2, min = 1 }, on_done = { nil, kind = "function" },
                                                  take = { nil, kind = "function" } })

-- run(jobs [, {parallel = 2, on_done = fn(job, status), take = fn}]) ->
-- statuses: each job {argv = {...}, env = {...}, output = path} as a child
-- process, `parallel` at a time; statuses[i] is job i's exit status (127
-- when it could not start, 128 + n when signal n killed it). take() -> the
-- index of the next job to start, nil when there is none: by default 1,
-- 2, ..., #jobs; under MPI a counter the ranks share (dist.counter), so
-- each rank starts a job whenever one of its slots is free, and statuses
-- holds only this rank's jobs. Children never inherit an MPI launcher's
-- variables (they would take themselves for ranks).
function sweep.run(jobs, o)
  if type(jobs) ~= "table" then argcheck.fail("sweep.run", 1, "jobs", "a list of jobs", jobs) end
  o = RUN_OPTS:check(o, 2)
  for i, j in ipairs(jobs) do
    if type(j) ~= "table" or type(j.argv) ~= "table" or #j.argv == 0 then
      argcheck.raise(string.format("sweep.run: job %d needs argv = {program, args...}", i))
    end
  end
  local seq = 0
  local take = o.take or function() seq = seq + 1; return seq end
  local dist = require "ganlua.dist"
  local strip = dist.launched() and dist.launch_env() or {}
  local statuses, running, n_running, taking = {}, {}, 0, true
  local function finish(i, st)
    statuses[i] = st
    if o.on_done then o.on_done(jobs[i], st) end
  end
  -- the next job, asked for only when a slot is free (a shared counter
  -- hands a job to whichever rank asks first)
  local function next_job()
    if not taking then return nil end
    local i = take()
    if math.type(i) ~= "integer" or i < 1 or i > #jobs then taking = false; return nil end
    return i
  end
  while true do
    while n_running < o.parallel do
      local i = next_job()
      if not i then break end
      local j = jobs[i]
      local env = j.env
      if #strip > 0 then
        env = {}
        for _, k in ipairs(strip) do env[k] = false end
        for k, v in pairs(j.env or {}) do env[k] = v end
      end
      local pid, err = S.spawn(j.argv, { env = env, output = j.output })
      if pid then
        running[pid], n_running = i, n_running + 1
      else
        if j.output then pcall(S.write_file, j.output, err .. "\n") end
        finish(i, 127)
      end
    end
    if n_running == 0 then break end
    local pid, st = S.wait()
    if not pid then break end -- no children left (reaped elsewhere)
    local i = running[pid]
    if i then
      running[pid], n_running = nil, n_running - 1
      finish(i, st)
    end
  end
  return statuses
end

-- stats(list) -> mean, sample standard deviation, n over the entries that
-- are numbers and not NaN; nil when there are none
function sweep.stats(list)
  list_arg("sweep.stats", 1, list, "list")
  local n, sum = 0, 0
  for _, x in ipairs(list) do if type(x) == "number" and x == x then n = n + 1; sum = sum + x end end
  if n == 0 then return nil end
  local m, v = sum / n, 0
  for _, x in ipairs(list) do if type(x) == "number" and x == x then v = v + (x - m) ^ 2 end end
  return m, n > 1 and math.sqrt(v / (n - 1)) or 0, n
end

-- mean_sd(list, fmt) -> "m ± sd" ("m" for one value, "n/a" for none,
-- with "(k of n seeds)" when some entries were NaN)
function sweep.mean_sd(list, fmt)
  list_arg("sweep.mean_sd", 1, list, "list")
  argcheck.string("sweep.mean_sd", 2, fmt, "fmt")
  local ok = pcall(string.format, fmt, 0.5)
  if not ok then argcheck.raise("sweep.mean_sd: argument 2 (fmt) must be a format for one number, such as \"%.2f\"") end
  local m, sd, n = sweep.stats(list)
  if not m then return "n/a" end
  local s = n == 1 and string.format(fmt, m) or string.format(fmt .. " ± " .. fmt, m, sd)
  if n < #list then s = s .. string.format(" (%d of %d seeds)", n, #list) end
  return s
end

-- markdown(head, rows) -> a markdown table: head a list of column titles,
-- rows lists of cells
function sweep.markdown(head, rows)
  list_arg("sweep.markdown", 1, head, "head")
  list_arg("sweep.markdown", 2, rows, "rows")
  for i, r in ipairs(rows) do
    if type(r) ~= "table" then argcheck.raise(string.format("sweep.markdown: row %d is not a list of cells", i)) end
  end
  local rule = {}
  for i = 1, #head do rule[i] = "---" end
  local lines = { "| " .. table.concat(head, " | ") .. " |", "| " .. table.concat(rule, " | ") .. " |" }
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(r) do cells[i] = tostring(c) end
    lines[#lines + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(lines, "\n")
end

-- read_json(path) -> the JSON value in a file (its last line holding a
-- JSON object, for a program's output with other lines before it), or nil
function sweep.read_json(path)
  argcheck.string("sweep.read_json", 1, path, "path")
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local ok, v = pcall(json.decode, s)
  if ok then return v end
  local last
  for line in s:gmatch("[^\n]+") do if line:match("^%s*{") then last = line end end
  if not last then return nil end
  ok, v = pcall(json.decode, last)
  return ok and v or nil
end

return sweep
