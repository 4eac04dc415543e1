-- ganlua.log: a run's directory, its metrics, and its progress line.
--
--   local run = log.run(opt)          -- opt from cli.options; raises if opt.out cannot be made
--   run:set_total(n_iterations)       -- enables the percentage and the ETA
--   run:scalar("d_loss", d:item())    -- numbers (or one-element tensors) for this step
--   run:step(it, { epoch = e })       -- one metrics line; redraws the progress line
--   run:print("...")                  -- a message that keeps the progress line tidy
--   run:report()                      -- refresh the run's HTML page now (after a snapshot)
--   run:close()                       -- also on leaving `local run <close> = log.run(opt)`
--
-- The directory (opt.out, created with its parents) gets config.json (the
-- resolved options, seed, ganlua version, script, command-line arguments,
-- date), a copy of the script, and metrics.jsonl: one JSON object per step,
-- step first ({"step":100,"epoch":1,"d_loss":0.693147182,...}), appended and
-- flushed line by line so a crash loses nothing. Files written whole go
-- through a temporary file and a rename. NaN and infinities are written as
-- null; numbers keep enough digits to read back the same float (9 for
-- float32 values such as :item()'s, up to 17 for doubles).
--
-- The run's page, report.html (ganlua.report), is written when the run
-- closes, by run:report(), and by run:step at most every 30 s (or 20
-- times the last page's making time, when longer), so a
-- browser reload during training shows the current state; {report =
-- false} turns it off. A page that cannot be made is a warning, never the
-- end of the run. close() also records the end ("finished", "seconds") in
-- config.json, which is how a page knows the run is over.
--
-- On a terminal a progress line (step, it/s, ETA, the latest scalars) is
-- redrawn in place at most ten times a second; otherwise a plain line is
-- printed whenever the step number passes a multiple of `every` (default
-- 1000) and at the last step of a known total.
local core = require "ganlua.core"
local json = require "ganlua.json"
local argcheck = require "ganlua.argcheck"
local S = core.sys

local log = {}

-- write_file(path, text) -> true; atomic (sys.write_file: temporary file,
-- fsync, rename); raises "write_file: cannot write PATH: REASON"
function log.write_file(path, text)
  argcheck.string("log.write_file", 1, path, "path")
  argcheck.string("log.write_file", 2, text, "text")
  return S.write_file(path, text)
end

-- write_json(path, value) -> true (atomic; raises on failure)
function log.write_json(path, value)
  argcheck.string("log.write_json", 1, path, "path")
  local text = argcheck.within("log.write_json", json.encode, value)
  return log.write_file(path, text .. "\n")
end

-- a number as JSON: null when not finite; a float32 value (what :item()
-- returns) with the fewest digits that read back as the same float32, any
-- other number exactly (json.encode)
local FLT_MAX = 3.4028234663852886e38
local function number(v)
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  if math.type(v) == "float" and math.abs(v) <= FLT_MAX and string.unpack("f", string.pack("f", v)) == v then
    for digits = 6, 9 do
      local s = string.format("%." .. digits .. "g", v)
      if string.unpack("f", string.pack("f", tonumber(s))) == v then return s end
    end
  end
  return json.encode(v)
end

local function value(v) return type(v) == "number" and number(v) or json.encode(v) end

local Run = {}
Run.__index = Run

local function copy_script(src, dir)
  local f, err = io.open(src, "rb")
  if not f then error("cannot copy the script: " .. err, 0) end
  local body = f:read("a")
  f:close()
  return log.write_file(dir .. "/" .. src:match("([^/]*)$"), body)
end

local RUN_OPTS = argcheck.options("log.run", { every = { 1000, min = 1 }, quiet = { false }, report = { true } })
-- seconds between the pages run:step refreshes: 30, or 20 times what the
-- last page took to make when that is longer (a page re-reads the whole
-- metrics.jsonl: 2 s at 100k lines), so the pages cost at most 5 % of a run
local REPORT_EVERY, REPORT_SHARE = 30, 20

-- Under mpirun only rank 0 writes the run directory; the other ranks get
-- a run that records nothing (its print says which rank speaks), and
-- opts.out becomes rank 0's directory on every rank.
local run_here -- log.run in this process, whatever the rank (below)
local Silent = {}
Silent.__index = Silent
function Silent:set_total(n, cap) return Run.set_total(self, n, cap) end
function Silent:print(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  print(string.format("rank %d: %s", self.rank, table.concat(t, "\t")))
end
for _, m in ipairs { "scalar", "step", "report", "close", "gan_stats", "draw" } do Silent[m] = function() end end

-- run(opts [, {every = 1000, quiet = false}]) -> a run writing into opts.out
function log.run(opts, o)
  if type(opts) ~= "table" or type(opts.out) ~= "string" or opts.out == "" then
    argcheck.raise("log.run: expected the options table from cli.options (with out = a directory)")
  end
  o = RUN_OPTS:check(o, 2)
  local dist = require "ganlua.dist"
  if dist.size() > 1 then
    if not dist.is_main() then
      opts.out = dist.broadcast_value(nil)
      return setmetatable({ dir = opts.out, rank = dist.rank() }, Silent)
    end
    local r = run_here(opts, o)
    dist.broadcast_value(opts.out)
    return r
  end
  return run_here(opts, o)
end

function run_here(opts, o)
  local every = o.every
  -- A new run never writes into an earlier run's directory: when --out
  -- names one that holds files, the run goes to out-2 (out-3, ...) and says
  -- so, unless it resumes from a checkpoint inside that directory.
  local function used(dir) local l = S.listdir(dir); return l ~= nil and #l > 0 end
  local resume = type(opts.resume) == "string" and opts.resume ~= "" and opts.resume or nil
  local continuing = resume and resume:sub(1, #opts.out + 1) == opts.out .. "/"
  if used(opts.out) and not continuing then
    local base, k = opts.out, 2
    while used(base .. "-" .. k) or S.listdir(base .. "-" .. k) do k = k + 1 end
    opts.out = base .. "-" .. k
    if not o.quiet then io.stderr:write(string.format("log.run: %s holds an earlier run; this one writes to %s\n", base, opts.out)) end
  end
  local existed = S.listdir(opts.out) ~= nil
  local ok, err = S.mkdir(opts.out)
  if not ok then argcheck.raise("log.run: " .. err) end
  -- a start that fails leaves no empty run directory behind
  local function undo(e)
    if not existed then
      for _, name in ipairs(S.listdir(opts.out) or {}) do os.remove(opts.out .. "/" .. name) end
      os.remove(opts.out)
    end
    argcheck.raise("log.run: " .. argcheck.strip(e))
  end
  local options = {}
  for k, v in pairs(opts) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then options[k] = v end
  end
  local cfg = { options = options, seed = opts.seed, ganlua = core.version, script = opts._script,
                args = opts._args, date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
                threads = core.tensor.get_num_threads() }
  local wok, werr = pcall(function()
    log.write_json(opts.out .. "/config.json", cfg)
    if opts._script and opts._script ~= "-" then copy_script(opts._script, opts.out) end
  end)
  if not wok then undo(werr) end
  local f, ferr = io.open(opts.out .. "/metrics.jsonl", "a")
  if not f then undo(ferr) end
  local r = setmetatable({
    dir = opts.out, file = f, scalars = {}, order = {}, shown = { order = {}, values = {} },
    tty = S.isatty(1), every = every, quiet = o.quiet, t0 = S.time(), last_draw = -math.huge,
    drawn = false, stale = false, n = 0, cfg = cfg, reporting = o.report, last_report = S.time(),
  }, Run)
  log.current = r
  return r
end

-- log.scalar(name, value) and log.step([n, extra]): the same as run:scalar
-- and run:step on the run most recently opened by log.run, for scripts
-- that keep one run and do not want to pass it around
local function current(fn)
  local r = log.current
  if not r or not r.file then argcheck.raise("log." .. fn .. ": no open run (call log.run(opt) first)") end
  return r
end
function log.scalar(name, v) return current("scalar"):scalar(name, v) end
function log.step(n, extra) return current("step"):step(n, extra) end

-- set_total(n): the number of steps the run will take (for % and ETA)
-- set_total(n [, cap]) -> the total: n steps (for the ETA), cut to cap
-- when cap is a positive number (a script's --max-iters; 0 or nil: no cap)
function Run:set_total(n, cap)
  if n ~= nil and (type(n) ~= "number" or n <= 0) then argcheck.raise("run:set_total: expected a positive number") end
  if cap ~= nil and type(cap) ~= "number" then argcheck.raise("run:set_total: the cap must be a number") end
  if n and cap and cap > 0 and cap < n then n = cap end
  self.total = n
  return n
end

-- scalar(name, value): a number (or a one-element tensor) for this step
function Run:scalar(name, v)
  if type(name) ~= "string" or name == "" then argcheck.raise("run:scalar: the name must be a non-empty string") end
  if name == "step" then argcheck.raise("run:scalar: 'step' is the step number; pick another name") end
  if core.tensor.is_tensor(v) then v = v:item() end
  if type(v) ~= "number" and type(v) ~= "boolean" then
    argcheck.raise(string.format("run:scalar: '%s' must be a number, got %s", name, type(v)))
  end
  if self.scalars[name] == nil then self.order[#self.order + 1] = name end
  self.scalars[name] = v
end

local function fmt(v)
  if type(v) ~= "number" then return tostring(v) end
  if v ~= v then return "nan" end
  if math.type(v) == "integer" then return tostring(v) end
  local a = math.abs(v)
  if a ~= 0 and (a < 1e-3 or a >= 1e5) then return string.format("%.3e", v) end
  return string.format("%.4f", v)
end

local function duration(s)
  if s ~= s or s == math.huge or s < 0 then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60) end
  return string.format("%d:%02d", s // 60, s % 60)
end

-- the progress text for step n: position, rate, ETA (or elapsed time), and
-- the scalars of the last step
function Run:status_line(n)
  n = n or self.n
  local el = S.time() - self.t0
  local rate = n / math.max(el, 1e-9)
  local parts = {}
  if self.total then
    local frac = math.min(1, n / self.total)
    local width = 20
    local fill = math.floor(frac * width + 0.5)
    parts[#parts + 1] = string.format("%3d%% [%s%s] %d/%d", math.floor(frac * 100), string.rep("=", fill),
      string.rep(" ", width - fill), n, self.total)
    parts[#parts + 1] = string.format("%.1f it/s, eta %s", rate, duration((self.total - n) / rate))
  else
    parts[#parts + 1] = string.format("step %d, %.1f it/s, %s", n, rate, duration(el))
  end
  for _, k in ipairs(self.shown.order) do parts[#parts + 1] = k .. " " .. fmt(self.shown.values[k]) end
  return table.concat(parts, "  ")
end

-- on a terminal, the status line cut to its width (a wrapped line cannot be
-- redrawn in place)
function Run:draw()
  local line = self:status_line(self.n)
  local width = S.term_width(1) or tonumber(os.getenv("COLUMNS") or "") or 80
  if #line > width - 1 then line = line:sub(1, math.max(1, width - 1)) end
  io.write("\r", line, "\27[K")
  io.flush()
  self.drawn, self.stale, self.last_draw = true, false, S.time()
end

-- step([n [, extra]]): one metrics line -- step, then the extra fields
-- (epoch first), then every scalar recorded since the last step in the order
-- first recorded -- then the progress display. n defaults to the last step + 1.
function Run:step(n, extra)
  if not self.file then argcheck.raise("run:step: the run is closed") end
  if n ~= nil and math.type(n) ~= "integer" then argcheck.raise("run:step: the step must be an integer") end
  if extra ~= nil and type(extra) ~= "table" then argcheck.raise("run:step: extra fields must be a table") end
  self.n = n or (self.n + 1)
  local keys, vals = { "step" }, { step = self.n }
  local ex = {}
  for k, v in pairs(extra or {}) do
    if type(k) ~= "string" then argcheck.raise("run:step: extra field names must be strings") end
    if k ~= "step" and self.scalars[k] == nil then ex[#ex + 1] = k; vals[k] = v end
  end
  table.sort(ex, function(a, b)
    if a == "epoch" or b == "epoch" then return a == "epoch" and b ~= "epoch" end
    return a < b
  end)
  for _, k in ipairs(ex) do keys[#keys + 1] = k end
  for _, k in ipairs(self.order) do keys[#keys + 1] = k; vals[k] = self.scalars[k] end
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = json.encode(k) .. ":" .. value(vals[k]) end
  self.file:write("{", table.concat(parts, ","), "}\n")
  self.file:flush()
  self.shown = { order = self.order, values = self.scalars }
  self.scalars, self.order = {}, {}
  if self.reporting and S.time() - self.last_report >= math.max(REPORT_EVERY, REPORT_SHARE * (self.report_cost or 0)) then
    self:report()
  end
  if self.quiet then return end
  if self.tty then
    if S.time() - self.last_draw >= 0.1 or (self.total and self.n >= self.total) then self:draw()
    else self.stale = true end
  elseif self.n // self.every ~= (self.last_plain or 0) // self.every or (self.total and self.n == self.total) then
    print(self:status_line(self.n))
    self.last_plain = self.n
  end
end

-- print(...): a message line, clearing the progress line first on a terminal
function Run:print(...)
  local redraw = self.tty and self.drawn and not self.quiet
  if redraw then io.write("\r\27[K") end
  print(...)
  if redraw then self:draw() end
end

local function grad_norm(model)
  local s = 0
  for _, p in ipairs(model:parameters()) do
    local g = p.grad
    if g then s = s + (g * g):sum():item() end
  end
  return math.sqrt(s)
end

-- gan_stats{d_real =, d_fake =, G =, D =, real =, fake =, step =, warn_below = 0.1}
-- records the usual training diagnostics as scalars of this step: mean of D
-- on real and fake batches, each network's gradient norm (call it after
-- backward, before zero_grad), and the diversity of the fake batch relative
-- to the real one (metrics.diversity). Prints a one-line warning the first
-- time diversity falls below warn_below: the generator is collapsing.
local GAN_STATS_OPTS = argcheck.options("run:gan_stats", {
  d_real = { nil, kind = "tensor" }, d_fake = { nil, kind = "tensor" }, G = { nil, kind = "table" }, D = { nil, kind = "table" },
  real = { nil, kind = "tensor" }, fake = { nil, kind = "tensor" }, warn_below = { 0.1 }, step = { nil, kind = "integer" },
})
function Run:gan_stats(o)
  local metrics = require "ganlua.metrics"
  o = GAN_STATS_OPTS:check(o, 1)
  if o.d_real then self:scalar("d_real", o.d_real:detach():mean():item()) end
  if o.d_fake then self:scalar("d_fake", o.d_fake:detach():mean():item()) end
  if o.G then self:scalar("grad_norm_G", grad_norm(o.G)) end
  if o.D then self:scalar("grad_norm_D", grad_norm(o.D)) end
  if o.real and o.fake then
    local div = metrics.diversity(o.fake:detach(), o.real)
    self:scalar("diversity", div)
    local thr = o.warn_below
    if div < thr and not self.warned_collapse then
      self.warned_collapse = true
      self:print(string.format("warning: %sthe fake batch's diversity is %.3f of the real batch's "
        .. "(below %.2f): the generator may be collapsing", o.step and ("step " .. o.step .. ": ") or "", div, thr))
    end
  end
end

-- report([status]) -> the page's path, or nil after a warning: the run's
-- report.html made now (status "running" unless given)
function Run:report(status)
  local t0 = S.time()
  local ok, res = pcall(function() return require("ganlua.report").run(self.dir, { status = status or "running" }) end)
  self.last_report = S.time()
  self.report_cost = self.last_report - t0
  if ok then return res end
  if not self.report_warned then
    self.report_warned = true
    self:print("warning: the run's report page could not be written: " .. argcheck.strip(res))
  end
  return nil
end

-- close(): finish the progress line, close metrics.jsonl, record the end
-- in config.json and write the final page; idempotent
function Run:close()
  if not self.file then return end
  self.file:flush()
  self.cfg.finished = os.date("!%Y-%m-%dT%H:%M:%SZ")
  self.cfg.seconds = S.time() - self.t0
  local ok, err = pcall(log.write_json, self.dir .. "/config.json", self.cfg)
  if not ok then self:print("warning: " .. argcheck.strip(err)) end
  if self.reporting then self:report("finished") end
  if self.tty and self.drawn and not self.quiet then
    if self.stale then self:draw() end
    io.write("\n")
    io.flush()
  end
  self.file:close()
  self.file = nil
  if log.current == self then log.current = nil end
end
Run.__close = Run.close

return log
