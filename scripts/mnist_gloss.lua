#!/usr/bin/env ganlua
-- mnist_gloss.lua — does the non-saturating generator loss matter? Runs
-- mnist_gan.lua with --gloss saturating, nonsaturating and hinge (same
-- seed), scoring samples with the MNIST-classifier Inception Score every
-- --sample-interval iterations, then prints the scores and plots them over
-- training in one figure.
--
--   ganlua scripts/mnist_gloss.lua --epochs 1
-- (trains scripts/mnist_classifier.lua first when --classifier is missing)
local opt = cli.options {
  epochs = { 1, "epochs per run", positive = true },
  sample_interval = { 100, "iterations between scores", positive = true },
  classifier = { "runs/classifier/classifier.safetensors", "classifier checkpoint (trained if missing)" },
  jobs = { 1, "runs at a time", positive = true },
  max_iters = { 0, "stop each run after this many iterations (0: every epoch)", min = 0 },
}
local run = log.run(opt)
local exe = ganlua.executable or "ganlua"
local here = arg[0]:match("^(.*)/[^/]*$") or "."

local f = io.open(opt.classifier)
if f then f:close() else
  local dir = opt.classifier:match("^(.*)/[^/]*$") or "."
  run:print("training the classifier into " .. dir)
  local st = sweep.run({ { argv = { exe, here .. "/mnist_classifier.lua", "--out", dir }, output = opt.out .. "/classifier.log" } })
  if st[1] ~= 0 then error("mnist_gloss.lua: training the classifier failed (see " .. opt.out .. "/classifier.log)", 0) end
end

-- the three runs, --jobs at a time (sweep.run)
local losses_ = { "saturating", "nonsaturating", "hinge" }
local jobs = {}
for _, g in ipairs(losses_) do
  jobs[#jobs + 1] = { argv = { exe, here .. "/mnist_gan.lua", "--gloss", g, "--epochs", opt.epochs, "--seed", opt.seed,
                               "--sample-interval", opt.sample_interval, "--classifier", opt.classifier,
                               "--max-iters", opt.max_iters, "--out", opt.out .. "/" .. g },
                      output = opt.out .. "/" .. g .. ".log" }
end
local cmdlines = {}
for i, j in ipairs(jobs) do cmdlines[i] = sweep.command_line(j) end
log.write_file(opt.out .. "/commands.txt", table.concat(cmdlines, "\n") .. "\n")
sweep.run(jobs, { parallel = opt.jobs })

local series, rows = {}, {}
for _, g in ipairs(losses_) do
  local xs, ys = {}, {}
  local fh = io.open(opt.out .. "/" .. g .. "/metrics.jsonl")
  if fh then
    for line in fh:lines() do
      local m = json.decode(line)
      if m.inception_score then xs[#xs + 1], ys[#ys + 1] = m.step, m.inception_score end
    end
    fh:close()
  end
  if #ys > 0 then
    local best = -math.huge
    for _, v in ipairs(ys) do best = math.max(best, v) end
    series[#series + 1] = { name = g, x = xs, y = ys }
    rows[#rows + 1] = { g, string.format("%.3f", ys[#ys]), string.format("%.3f", best) }
  else
    rows[#rows + 1] = { g, string.format("failed (see %s/%s.log)", opt.out, g), "" }
  end
end
if #series > 0 then
  assert(plot.lines(series, opt.out .. "/inception_score.png", { title = "MNIST GAN: generator loss vs Inception Score",
    xlabel = "iteration", ylabel = "Inception Score (MNIST classifier)" }))
end
local md = sweep.markdown({ "generator loss", "Inception Score (MNIST classifier), last", "best" }, rows)
print(md)
log.write_file(opt.out .. "/results.md", md .. "\n")
run:print("figure: " .. opt.out .. "/inception_score.png")
run:close()
