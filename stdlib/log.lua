-- ganlua.log: a run's directory, its metrics, and its progress line.
--
--   local run = log.run(opt)          -- opt from cli.options
--   run:set_total(n_iterations)
--   run:scalar("d_loss", d:item()); run:step(it, { epoch = e })
--   run:print("...")                  -- a message that keeps the progress line tidy
--   run:close()
--
-- The directory (opt.out) gets config.json (resolved options, seed, ganlua
-- version, script, date), a copy of the script, and metrics.jsonl: one JSON
-- object per step ({"step": 100, "epoch": 1, "d_loss": 0.69, ...}), flushed
-- as it is written so a crash loses nothing. On a terminal a progress line
-- with rate, ETA and the latest scalars is redrawn in place; otherwise a
-- plain line is printed every `every` steps (default 1000).
local core = require "ganlua.core"
local json = require "ganlua.json"
local S = core.sys

local log = {}

-- write_json(path, value) -> true or nil, message (atomic)
function log.write_json(path, value)
  local tmp = path .. ".tmp." .. S.getpid()
  local f, err = io.open(tmp, "w")
  if not f then return nil, err end
  local ok, werr = f:write(json.encode(value), "\n")
  local cok, cerr = f:close()
  if not ok or not cok then os.remove(tmp); return nil, werr or cerr end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); return nil, rerr end
  return true
end

local function copy_file(src, dst)
  local f = io.open(src, "rb")
  if not f then return nil end
  local body = f:read("a")
  f:close()
  local g = io.open(dst, "wb")
  if not g then return nil end
  g:write(body)
  g:close()
  return true
end

local Run = {}
Run.__index = Run

-- run(opts [, {every = 1000, quiet = false}]) -> a run writing into opts.out
function log.run(opts, o)
  if type(opts) ~= "table" or type(opts.out) ~= "string" then
    error("log.run: expected the options table from cli.options (with out = a directory)", 2)
  end
  o = o or {}
  local ok, err = S.mkdir(opts.out)
  if not ok then error("log.run: " .. err, 2) end
  local cfg = { options = {}, seed = opts.seed, ganlua = core.version, script = opts._script,
                date = os.date("!%Y-%m-%dT%H:%M:%SZ"), threads = core.tensor.get_num_threads() }
  for k, v in pairs(opts) do if type(k) == "string" and k:sub(1, 1) ~= "_" then cfg.options[k] = v end end
  assert(log.write_json(opts.out .. "/config.json", cfg))
  if opts._script and opts._script ~= "-" then
    copy_file(opts._script, opts.out .. "/" .. opts._script:match("([^/]*)$"))
  end
  local f, ferr = io.open(opts.out .. "/metrics.jsonl", "a")
  if not f then error("log.run: " .. ferr, 2) end
  local self = setmetatable({
    dir = opts.out, file = f, scalars = {}, order = {}, tty = S.isatty(1), every = o.every or 1000,
    quiet = o.quiet, t0 = S.time(), last_draw = 0, shown = false, n = 0,
  }, Run)
  return self
end

function Run:set_total(n) self.total = n end

function Run:scalar(name, value)
  if self.scalars[name] == nil then self.order[#self.order + 1] = name end
  self.scalars[name] = value
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
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60) end
  return string.format("%d:%02d", s // 60, s % 60)
end

function Run:status_line(n)
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
  for _, k in ipairs(self.order) do
    local v = self.scalars[k]
    if v ~= nil then parts[#parts + 1] = k .. " " .. fmt(v) end
  end
  return table.concat(parts, "  ")
end

-- step([n [, extra]]): one metrics line (step, the extra fields, every
-- scalar recorded since the last step), then the progress display.
function Run:step(n, extra)
  self.n = n or (self.n + 1)
  local rec = { step = self.n }
  for k, v in pairs(extra or {}) do rec[k] = v end
  for k, v in pairs(self.scalars) do rec[k] = v end
  self.file:write(json.encode(rec), "\n")
  self.file:flush()
  if self.quiet then return end
  local now = S.time()
  if self.tty then
    if now - self.last_draw >= 0.1 or (self.total and self.n >= self.total) then
      local line = self:status_line(self.n)
      io.write("\r", line, "\27[K")
      io.flush()
      self.shown, self.last_draw = true, now
    end
  elseif self.n // self.every ~= (self.last_plain or 0) // self.every or (self.total and self.n == self.total) then
    print(self:status_line(self.n))
    self.last_plain = self.n
  end
  for k in pairs(self.scalars) do self.scalars[k] = nil end
  self.order = {}
end

-- print(...): a message line, clearing the progress line first on a tty
function Run:print(...)
  if self.tty and self.shown then io.write("\r\27[K") end
  print(...)
  if self.tty and self.shown then
    io.write(self:status_line(self.n))
    io.flush()
  end
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
function Run:gan_stats(o)
  local metrics = require "ganlua.metrics"
  if o.d_real then self:scalar("d_real", o.d_real:detach():mean():item()) end
  if o.d_fake then self:scalar("d_fake", o.d_fake:detach():mean():item()) end
  if o.G then self:scalar("grad_norm_G", grad_norm(o.G)) end
  if o.D then self:scalar("grad_norm_D", grad_norm(o.D)) end
  if o.real and o.fake then
    local div = metrics.diversity(o.fake:detach(), o.real)
    self:scalar("diversity", div)
    local thr = o.warn_below or 0.1
    if div < thr and not self.warned_collapse then
      self.warned_collapse = true
      self:print(string.format("warning: %sthe fake batch's diversity is %.3f of the real batch's "
        .. "(below %.2f): the generator may be collapsing", o.step and ("step " .. o.step .. ": ") or "", div, thr))
    end
  end
end

function Run:close()
  if self.tty and self.shown then io.write("\n") end
  if self.file then self.file:close(); self.file = nil end
end

return log
