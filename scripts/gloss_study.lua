#!/usr/bin/env ganlua
-- gloss_study.lua — does the generator's loss matter? Runs a GAN script
-- with --gloss saturating (min log(1 - D(G(z))), the minimax game),
-- nonsaturating (max log D(G(z))) and hinge, each over --seeds, scoring
-- samples with the classifier-based Inception Score and FID every
-- --sample-interval iterations; then one figure (score over training,
-- mean +- sd over seeds as a band, one line per loss) and one table.
--
--   ganlua scripts/gloss_study.lua --epochs 2 --jobs 2                 # DCGAN on Fashion-MNIST, seeds 0-2
--   ganlua scripts/gloss_study.lua --script mnist_gan --data mnist --seeds 0
--
-- --script dcgan (scripts/dcgan.lua, 32 x 32, on --data mnist or fashion)
-- or mnist_gan (the fully connected MNIST GAN). The classifier
-- (scripts/mnist_classifier.lua on the same --data) is trained first when
-- --classifier is missing; its test accuracy goes into the table's note.
local opt = cli.options {
  script = { "dcgan", "the GAN script", choices = { "dcgan", "mnist_gan" } },
  data = { "fashion", "dcgan's images", choices = { "mnist", "fashion" } },
  seeds = { "0,1,2", "comma-separated seeds" },
  epochs = { 1, "epochs per run", positive = true },
  sample_interval = { 100, "iterations between scores", positive = true },
  classifier = { "", "classifier checkpoint (default runs/<data>_classifier/classifier.safetensors; trained if missing)" },
  jobs = { 1, "runs at a time", positive = true },
  max_iters = { 0, "stop each run after this many iterations (0: every epoch)", min = 0 },
  from = { "", "read the runs of an earlier study in this directory instead of running them (a failed run redone by hand)" },
}
local run = log.run(opt)
local exe = ganlua.executable or "ganlua"
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local data_name = opt.script == "mnist_gan" and "mnist" or opt.data
if opt.script == "mnist_gan" and opt.data ~= "mnist" then
  error("gloss_study.lua: --script mnist_gan trains on MNIST only; pass --data mnist", 0)
end
local seeds = {}
for s in opt.seeds:gmatch("[^,]+") do
  local v = math.tointeger(tonumber(s))
  if not v then error("gloss_study.lua: --seeds: " .. string.format("%q", s) .. " is not an integer", 0) end
  seeds[#seeds + 1] = v
end
if #seeds == 0 then error("gloss_study.lua: --seeds is empty", 0) end

local clf_path = opt.classifier ~= "" and opt.classifier or ("runs/" .. data_name .. "_classifier/classifier.safetensors")
local f = io.open(clf_path)
if f then f:close() else
  local dir = clf_path:match("^(.*)/[^/]*$") or "."
  run:print("training the classifier into " .. dir)
  local st = sweep.run({ { argv = { exe, here .. "/mnist_classifier.lua", "--data", data_name, "--out", dir },
                           output = opt.out .. "/classifier.log" } })
  if st[1] ~= 0 then error("gloss_study.lua: training the classifier failed (see " .. opt.out .. "/classifier.log)", 0) end
end
local summary = sweep.read_json((clf_path:match("^(.*)/[^/]*$") or ".") .. "/summary.json")

-- every (loss, seed) run, --jobs at a time, the cores shared among them
local GLOSSES = { "saturating", "nonsaturating", "hinge" }
local jobs = {}
for _, g in ipairs(GLOSSES) do
  for _, s in ipairs(seeds) do
    local argv = { exe, "--threads", math.max(1, sys.backend().threads // opt.jobs), here .. "/" .. opt.script .. ".lua", "--gloss", g, "--epochs", opt.epochs, "--seed", s,
                   "--sample-interval", opt.sample_interval, "--classifier", clf_path, "--max-iters", opt.max_iters,
                   "--out", string.format("%s/%s_seed%d", opt.out, g, s) }
    if opt.script == "dcgan" then argv[#argv + 1] = "--data"; argv[#argv + 1] = opt.data end
    jobs[#jobs + 1] = { argv = argv, output = string.format("%s/%s_seed%d.log", opt.out, g, s) }
  end
end
local cmdlines = {}
for i, j in ipairs(jobs) do cmdlines[i] = sweep.command_line(j) end
local base, statuses, wall = opt.out, {}, 0
if opt.from ~= "" then
  base = opt.from
  for i = 1, #jobs do statuses[i] = 0 end -- a run counts when its metrics hold scores
else
  log.write_file(opt.out .. "/commands.txt", table.concat(cmdlines, "\n") .. "\n")
  local t0 = sys.time()
  statuses = sweep.run(jobs, { parallel = opt.jobs })
  wall = sys.time() - t0
end

-- scores[g][seed] = {step = {...}, is = {...}, fid = {...}}
local function read_scores(dir)
  local r = { step = {}, is = {}, fid = {} }
  local fh = io.open(dir .. "/metrics.jsonl")
  if not fh then return nil end
  for line in fh:lines() do
    local m = json.decode(line)
    if m.inception_score then
      r.step[#r.step + 1], r.is[#r.is + 1], r.fid[#r.fid + 1] = m.step, m.inception_score, m.fid or 0 / 0
    end
  end
  fh:close()
  return #r.is > 0 and r or nil
end

local series, rows, k = {}, {}, 0
for _, g in ipairs(GLOSSES) do
  local per_seed, last_is, best_is, last_fid, failed = {}, {}, {}, {}, {}
  for _, s in ipairs(seeds) do
    k = k + 1
    local r = statuses[k] == 0 and read_scores(string.format("%s/%s_seed%d", base, g, s)) or nil
    if r then
      per_seed[#per_seed + 1] = r
      local best = -math.huge
      for _, v in ipairs(r.is) do best = math.max(best, v) end
      last_is[#last_is + 1], best_is[#best_is + 1], last_fid[#last_fid + 1] = r.is[#r.is], best, r.fid[#r.fid]
    else
      failed[#failed + 1] = string.format("seed %d (see %s/%s_seed%d.log)", s, base, g, s)
    end
  end
  if #per_seed > 0 then
    -- mean and sd over seeds at each scoring step the seeds share
    local n = math.huge
    for _, r in ipairs(per_seed) do n = math.min(n, #r.is) end
    local xs, ys, lo, hi = {}, {}, {}, {}
    for i = 1, n do
      local vals = {}
      for j, r in ipairs(per_seed) do vals[j] = r.is[i] end
      local m, sd = sweep.stats(vals)
      xs[i], ys[i], lo[i], hi[i] = per_seed[1].step[i], m, m - sd, m + sd
    end
    series[#series + 1] = { name = g, x = xs, y = ys, lo = lo, hi = hi }
  end
  rows[#rows + 1] = { g, sweep.mean_sd(last_is, "%.3f"), sweep.mean_sd(best_is, "%.3f"), sweep.mean_sd(last_fid, "%.2f"),
                      #failed > 0 and ("failed: " .. table.concat(failed, ", ")) or tostring(#per_seed) }
end
local what = opt.script == "dcgan" and ("DCGAN 32x32 on " .. opt.data) or "MNIST GAN (fully connected)"
if #series > 0 then
  assert(plot.lines(series, opt.out .. "/inception_score.png", { title = what .. ": generator loss vs Inception Score",
    xlabel = "iteration", ylabel = "Inception Score (" .. data_name .. " classifier), mean +- sd over seeds" }))
end
local md = sweep.markdown({ "generator loss", "Inception Score, last", "best", "FID, last", "seeds" }, rows)
local how = opt.from ~= "" and ("runs read from " .. opt.from)
  or string.format("%.0f s wall on %d job(s) at a time", wall, opt.jobs)
local note = string.format("%s, seeds %s, %d epoch(s)%s each; scores of 2000 samples from %s (test accuracy %s%%); %s",
  what, opt.seeds, opt.epochs, opt.max_iters > 0 and string.format(" or %d iterations", opt.max_iters) or "", clf_path,
  summary and string.format("%.2f", summary.test_accuracy) or "?", how)
print(md)
print(note)
log.write_file(opt.out .. "/results.md", md .. "\n\n" .. note .. "\n")
run:print("figure: " .. opt.out .. "/inception_score.png")
run:close()
