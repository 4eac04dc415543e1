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
}
local run = log.run(opt)
local exe = ganlua.executable or "ganlua"
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

if not io.open(opt.classifier) then
  local dir = opt.classifier:match("^(.*)/[^/]*$") or "."
  run:print("training the classifier into " .. dir)
  assert(os.execute(string.format("%s %s/mnist_classifier.lua --out %s", q(exe), here, q(dir))))
end

local losses_ = { "saturating", "nonsaturating", "hinge" }
local cmds = {}
for _, g in ipairs(losses_) do
  cmds[#cmds + 1] = string.format("%s %s/mnist_gan.lua --gloss %s --epochs %d --seed %d --sample-interval %d "
    .. "--classifier %s --out %s > %s 2>&1", q(exe), here, g, opt.epochs, opt.seed, opt.sample_interval,
    q(opt.classifier), q(opt.out .. "/" .. g), q(opt.out .. "/" .. g .. ".log"))
end
local list = opt.out .. "/commands.txt"
local f = assert(io.open(list, "w"))
f:write(table.concat(cmds, "\n"), "\n")
f:close()
os.execute(string.format("tr '\\n' '\\0' < %s | xargs -0 -P %d -I CMD sh -c CMD", q(list), opt.jobs))

local series, rows = {}, { "| generator loss | Inception Score (MNIST classifier), last | best |", "| --- | --- | --- |" }
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
    rows[#rows + 1] = string.format("| %s | %.3f | %.3f |", g, ys[#ys], best)
  else
    rows[#rows + 1] = string.format("| %s | failed (see %s/%s.log) | |", g, opt.out, g)
  end
end
if #series > 0 then
  assert(plot.lines(series, opt.out .. "/inception_score.png", { title = "MNIST GAN: generator loss vs Inception Score",
    xlabel = "iteration", ylabel = "Inception Score (MNIST classifier)" }))
end
local md = table.concat(rows, "\n")
print(md)
local out = assert(io.open(opt.out .. "/results.md", "w"))
out:write(md, "\n")
out:close()
run:print("figure: " .. opt.out .. "/inception_score.png")
run:close()
