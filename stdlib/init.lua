-- ganlua: the module `require "ganlua"` returns.
-- Holds every ganlua module by name; `ganlua.install_globals()` makes them
-- globals, which the ganlua executable does before running a script.
local core = require "ganlua.core"

local M = {
  version = core.version,
  tensor = require "ganlua.tensor",
  autograd = require "ganlua.autograd",
  nn = require "ganlua.nn",
  losses = require "ganlua.losses",
  optim = require "ganlua.optim",
  data = require "ganlua.data",
  metrics = require "ganlua.metrics",
  image = require "ganlua.image",
  json = require "ganlua.json",
  ckpt = require "ganlua.ckpt",
  plot = require "ganlua.plot",
  cli = require "ganlua.cli",
  log = require "ganlua.log",
  sweep = require "ganlua.sweep",
  report = require "ganlua.report",
  dist = require "ganlua.dist",
  models = require "ganlua.models",
  sys = core.sys,
}

local globals = { "tensor", "autograd", "nn", "losses", "optim", "data", "metrics", "image", "json", "ckpt", "plot", "cli", "log", "sweep", "report", "dist", "models", "sys" }

local R = require "ganlua.repl"
M.repl = R
M.break_in = R.break_in -- what Ctrl-\ calls in the executable

function M.install_globals(env)
  env = env or _G
  for _, name in ipairs(globals) do env[name] = M[name] end
  env.ganlua = M
  env.repl = R.enter
  env.help = require("ganlua.help").help
  return M
end

return M
