#!/usr/bin/env ganlua
-- toy_sweep.lua — every toy variant over several seeds: runs
-- scripts/toy_gan.lua for each (variant, seed), `jobs` at a time, then
-- writes a markdown table (mean +- std over seeds of modes covered,
-- high-quality %, KL to uniform, wall time) and one figure stacking each
-- variant's KDE panels over training (seed of --figure-seed).
--
--   ganlua scripts/toy_sweep.lua                       # all six x seeds 0,1,2
--   ganlua scripts/toy_sweep.lua --variants vanilla,minibatch --seeds 0 --epochs 50
--   ganlua scripts/toy_sweep.lua --reference           # also the PyTorch reference
local opt = cli.options {
  variants = { "vanilla,fm,fm_lambda,minibatch,wgan,wgan_gp", "comma-separated variants" },
  seeds = { "0,1,2", "comma-separated seeds" },
  epochs = { 200, "epochs per run" },
  dataset = { "ring", "toy data", choices = { "ring", "grid" } },
  jobs = { 2, "runs at a time (each with one BLAS thread)" },
  reference = { false, "also run bench/toy_gan_torch.py (PyTorch) for each variant and seed" },
  reference_variants = { "", "variants for the reference (default: all of --variants)" },
  figure_seed = { 0, "seed whose panels go into the figure" },
  keep = { false, "keep runs that already have results in --out (rerun only the missing ones)" },
}
local run = log.run(opt)

local function split(s)
  local out = {}
  for w in s:gmatch("[^,%s]+") do out[#out + 1] = w end
  return out
end
local variants, seeds = split(opt.variants), split(opt.seeds)
local ref_variants = opt.reference_variants ~= "" and split(opt.reference_variants) or variants
local exe = ganlua.executable or "ganlua"
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- one shell command per run, run `jobs` at a time by xargs
local cmds = {}
for _, v in ipairs(variants) do
  for _, s in ipairs(seeds) do
    local dir = string.format("%s/%s_seed%s", opt.out, v, s)
    local done = opt.keep and io.open(dir .. "/summary.json")
    if done then
      done:close()
    else -- OPENBLAS_NUM_THREADS=1: no idle BLAS worker spinning beside each run
      cmds[#cmds + 1] = string.format("OPENBLAS_NUM_THREADS=1 %s --threads 1 %s --variant %s --seed %s --epochs %d "
        .. "--dataset %s --out %s > %s 2>&1", q(exe), q(here .. "/toy_gan.lua"), v, s, opt.epochs, opt.dataset, q(dir),
        q(dir .. ".log"))
    end
  end
end
if opt.reference then
  if not os.execute("/usr/bin/python3 -c 'import torch' 2>/dev/null") then
    io.stderr:write("toy_sweep.lua: --reference needs Debian's python3-torch (`make bench` installs it)\n")
    os.exit(2)
  end
  for _, v in ipairs(ref_variants) do
    for _, s in ipairs(seeds) do
      local res = string.format("%s/torch_%s_seed%s.json", opt.out, v, s)
      local done = opt.keep and io.open(res)
      local ok = done and done:read("a"):find("it_per_s", 1, true)
      if done then done:close() end
      if not ok then
        cmds[#cmds + 1] = string.format("OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 %s --variant %s "
          .. "--seed %s --epochs %d --dataset %s --threads 1 > %s 2>&1", q(here .. "/../bench/toy_gan_torch.py"), v, s,
          opt.epochs, opt.dataset, q(res))
      end
    end
  end
end
local list = opt.out .. "/commands.txt"
local f = assert(io.open(list, "w"))
f:write(table.concat(cmds, "\n"), "\n")
f:close()
run:print(string.format("%d runs, %d at a time; logs in %s", #cmds, opt.jobs, opt.out))
local t0 = sys.time()
os.execute(string.format("tr '\\n' '\\0' < %s | xargs -0 -P %d -I CMD sh -c CMD", q(list), opt.jobs))
run:print(string.format("all runs finished in %.0f s", sys.time() - t0))

local function contains(t, x)
  for _, y in ipairs(t) do if y == x then return true end end
  return false
end

local function read_json(path)
  local fh = io.open(path)
  if not fh then return nil end
  local s = fh:read("a")
  fh:close()
  local ok, v = pcall(json.decode, (s:match("[^\n]*%b{}") or s))
  return ok and v or nil
end

local function stats(list_)
  local n, sum = 0, 0
  for _, x in ipairs(list_) do if x == x then n = n + 1; sum = sum + x end end
  if n == 0 then return "n/a" end
  local m = sum / n
  local v = 0
  for _, x in ipairs(list_) do if x == x then v = v + (x - m) ^ 2 end end
  local sd = n > 1 and math.sqrt(v / (n - 1)) or 0
  return m, sd, n
end

local function pm(list_, fmt)
  local m, sd, n = stats(list_)
  if m == "n/a" then return "n/a" end
  local s = n == 1 and string.format(fmt, m) or string.format(fmt .. " ± " .. fmt, m, sd)
  -- KL is undefined for a seed without a high-quality point: say over how many seeds
  if n < #list_ then s = s .. string.format(" (%d of %d seeds)", n, #list_) end
  return s
end

local lines = {
  string.format("| variant | modes (of %d) | high-quality %% | KL to uniform | seconds | it/s |",
    opt.dataset == "ring" and 8 or 25),
  "| --- | --- | --- | --- | --- | --- |",
}
local ref_lines = { "| variant (PyTorch) | modes | high-quality % | KL to uniform | seconds | it/s |", "| --- | --- | --- | --- | --- | --- |" }
local summary = {}
local rows = {}
for _, v in ipairs(variants) do
  local modes, hq, kl, secs, rate = {}, {}, {}, {}, {}
  for _, s in ipairs(seeds) do
    local r = read_json(string.format("%s/%s_seed%s/summary.json", opt.out, v, s))
    if r then
      modes[#modes + 1], hq[#hq + 1] = r.modes, r.hq_percent
      kl[#kl + 1] = r.kl or 0 / 0
      secs[#secs + 1], rate[#rate + 1] = r.seconds, r.it_per_s
    else
      run:print(string.format("missing result for %s seed %s (see %s/%s_seed%s.log)", v, s, opt.out, v, s))
    end
  end
  lines[#lines + 1] = string.format("| %s | %s | %s | %s | %s | %s |", v, pm(modes, "%.1f"), pm(hq, "%.2f"), pm(kl, "%.3f"),
    pm(secs, "%.1f"), pm(rate, "%.0f"))
  summary[v] = { modes = modes, hq = hq, kl = kl, seconds = secs, it_per_s = rate }
  if opt.reference then
    local tm, th, tk, ts, tr = {}, {}, {}, {}, {}
    for _, s in ipairs(seeds) do
      local r = read_json(string.format("%s/torch_%s_seed%s.json", opt.out, v, s))
      if r then
        tm[#tm + 1], th[#th + 1], tk[#tk + 1] = r.modes, r.hq_percent, r.kl or 0 / 0
        ts[#ts + 1], tr[#tr + 1] = r.seconds, r.it_per_s
      elseif contains(ref_variants, v) then
        run:print(string.format("missing reference result for %s seed %s (see %s/torch_%s_seed%s.json)", v, s, opt.out, v, s))
      end
    end
    if #tm > 0 then
      ref_lines[#ref_lines + 1] = string.format("| %s | %s | %s | %s | %s | %s |", v, pm(tm, "%.1f"), pm(th, "%.2f"),
        pm(tk, "%.3f"), pm(ts, "%.1f"), pm(tr, "%.0f"))
      summary[v].torch = { modes = tm, hq = th, kl = tk, seconds = ts, it_per_s = tr }
    end
  end
  -- this variant's panels (the saved samples of --figure-seed)
  local dir = string.format("%s/%s_seed%d/samples", opt.out, v, opt.figure_seed)
  local p = io.popen("ls " .. q(dir) .. " 2>/dev/null")
  local panels = {}
  for name in p:lines() do
    local ep = tonumber(name:match("epoch_(%d+)%.csv"))
    if ep then panels[#panels + 1] = { samples = data.read_csv(dir .. "/" .. name), title = "epoch " .. ep } end
  end
  p:close()
  if #panels > 0 then rows[#rows + 1] = { label = v, panels = panels } end
end

local ds = (opt.dataset == "ring" and data.gaussian_ring or data.gaussian_grid) { n = 2500, normalize = true }
for _, r in ipairs(rows) do r.panels[#r.panels + 1] = { samples = ds.x, title = "data" } end
local fig = opt.out .. "/sweep.png"
if #rows > 0 then
  assert(plot.panels(rows, fig, { centers = ds.centers,
    title = string.format("toy %s, seed %d: KDE of G's samples over training", opt.dataset, opt.figure_seed) }))
end
local md = table.concat(lines, "\n") .. (opt.reference and ("\n\n" .. table.concat(ref_lines, "\n")) or "") .. "\n"
local fh = assert(io.open(opt.out .. "/results.md", "w"))
fh:write(md)
fh:close()
log.write_json(opt.out .. "/summary.json", summary)
print(md)
run:print("table: " .. opt.out .. "/results.md, figure: " .. fig)
run:close()
