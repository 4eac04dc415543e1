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
--   ganlua scripts/toy_sweep.lua --grid "lr=1e-4,1e-3 epochs=200,1000 lambda=1,10,30"
--   mpirun -np 4 ganlua scripts/toy_sweep.lua --jobs 1  # the runs shared by 4 ranks
--
-- --grid runs every variant at every point of the product of the listed
-- toy_gan.lua options (space-separated key=v1,v2,...); lambda reaches only
-- fm_lambda and n_critic only the WGANs, so the others are not repeated
-- for them. Each point is a row of the table and of the figure.
--
-- Under mpirun every rank takes the next run whenever one of its --jobs
-- slots is free (dist.counter), so fast runs never wait for slow ones; the
-- runs are the same commands as on one machine, so they give the same
-- results, and rank 0 alone writes the table, the figure and the pages
-- (the ranks share the file system of --out).
local opt = cli.options {
  variants = { "vanilla,fm,fm_lambda,minibatch,wgan,wgan_gp", "comma-separated variants" },
  seeds = { "0,1,2", "comma-separated seeds" },
  epochs = { 200, "epochs per run", positive = true },
  dataset = { "ring", "toy data", choices = { "ring", "grid" } },
  jobs = { 2, "runs at a time (each with one BLAS thread)", positive = true },
  reference = { false, "also run bench/toy_gan_torch.py (PyTorch) for each variant and seed" },
  reference_variants = { "", "variants for the reference (default: all of --variants)" },
  figure_seed = { 0, "seed whose panels go into the figure" },
  keep = { false, "keep runs that already have results in --out (rerun only the missing ones)" },
  grid = { "", "toy_gan.lua options to sweep, e.g. \"lr=1e-4,1e-3 epochs=200,1000 lambda=1,10,30\"" },
}

local function split(s)
  local out = {}
  for w in s:gmatch("[^,%s]+") do out[#out + 1] = w end
  return out
end
local variants, seeds = split(opt.variants), split(opt.seeds)
local ref_variants = opt.reference_variants ~= "" and split(opt.reference_variants) or variants
-- a mistake stops the sweep before any run, as cli.options does (exit 2)
local KNOWN = { vanilla = true, fm = true, fm_lambda = true, minibatch = true, wgan = true, wgan_gp = true }
local function refuse(msg)
  io.stderr:write("toy_sweep.lua: " .. msg .. "\n")
  os.exit(2)
end
for _, list in ipairs { { "--variants", variants }, { "--reference-variants", ref_variants } } do
  if #list[2] == 0 then refuse(list[1] .. ": no variant given") end
  for _, v in ipairs(list[2]) do
    if not KNOWN[v] then refuse(string.format("%s: unknown variant '%s' (vanilla, fm, fm_lambda, minibatch, wgan, wgan_gp)", list[1], v)) end
  end
end
if #seeds == 0 then refuse("--seeds: no seed given") end
for _, s in ipairs(seeds) do
  if not s:match("^%d+$") then refuse(string.format("--seeds: '%s' is not a non-negative integer", s)) end
end
local exe = ganlua.executable or "ganlua"
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")

-- the grid (sweep.grid); lambda reaches only fm_lambda, n_critic only the WGANs
local axes, gerr = sweep.grid(opt.grid, { lr = "number", epochs = "integer", lambda = "number", n_critic = "integer",
                                          batch = "integer" })
if not axes then refuse("--grid: " .. gerr) end
local ONLY = { lambda = { fm_lambda = true }, n_critic = { wgan = true, wgan_gp = true } }
local function points_for(v)
  return sweep.points(axes, function(key) return not ONLY[key] or ONLY[key][v] end)
end
local function flags(point)
  local t = sweep.point_flags(point)
  if not sweep.has(point, "epochs") then t[#t + 1] = "--epochs"; t[#t + 1] = tostring(opt.epochs) end
  return t
end
local function exists(path) local f = io.open(path); if f then f:close() end return f ~= nil end

-- after the grid is known to be good: a mistake leaves no run directory
-- (under mpirun rank 0's, which every rank then writes its runs into)
local run = log.run(opt)

-- one job per run, `jobs` at a time (sweep.run); OPENBLAS_NUM_THREADS=1:
-- no idle BLAS worker spinning beside each run
local jobs, run_dirs = {}, {}
local function add(argv, env, output)
  jobs[#jobs + 1] = { argv = argv, env = env, output = output }
end
for _, v in ipairs(variants) do
  for _, pt in ipairs(points_for(v)) do
    for _, s in ipairs(seeds) do
      local dir = string.format("%s/%s%s_seed%s", opt.out, v, sweep.point_dir(pt), s)
      run_dirs[#run_dirs + 1] = dir
      if not (opt.keep and exists(dir .. "/summary.json")) then
        local argv = { exe, "--threads", "1", here .. "/toy_gan.lua", "--variant", v, "--seed", s,
                       "--dataset", opt.dataset, "--out", dir }
        for _, f in ipairs(flags(pt)) do argv[#argv + 1] = f end
        add(argv, { OPENBLAS_NUM_THREADS = "1" }, dir .. ".log")
      end
    end
  end
end
if opt.reference then
  local pid = sys.spawn({ "/usr/bin/python3", "-c", "import torch" }, { output = "/dev/null" })
  if not pid or select(2, sys.wait(pid)) ~= 0 then
    io.stderr:write("toy_sweep.lua: --reference needs Debian's python3-torch (`make bench` installs it)\n")
    os.exit(2)
  end
  for _, v in ipairs(ref_variants) do
    for _, pt in ipairs(points_for(v)) do
      for _, s in ipairs(seeds) do
        local res = string.format("%s/torch_%s%s_seed%s.json", opt.out, v, sweep.point_dir(pt), s)
        local done = opt.keep and sweep.read_json(res)
        if not (done and done.it_per_s) then
          local argv = { "/usr/bin/python3", here .. "/../bench/toy_gan_torch.py", "--variant", v, "--seed", s,
                         "--dataset", opt.dataset, "--threads", "1" }
          for _, f in ipairs(flags(pt)) do argv[#argv + 1] = (f:gsub("^%-%-n%-critic$", "--n_critic")) end
          add(argv, { OMP_NUM_THREADS = "1", OPENBLAS_NUM_THREADS = "1" }, res)
        end
      end
    end
  end
end
local cmdlines = {}
for i, j in ipairs(jobs) do cmdlines[i] = sweep.command_line(j) end
if dist.is_main() then
  log.write_file(opt.out .. "/commands.txt", table.concat(cmdlines, "\n") .. "\n")
  run:print(string.format("%d runs, %d at a time%s; logs in %s", #jobs, opt.jobs,
    dist.size() > 1 and string.format(" on each of %d ranks", dist.size()) or "", opt.out))
end
local t0 = sys.time()
local counter = dist.size() > 1 and dist.counter() or nil
sweep.run(jobs, { parallel = opt.jobs, take = counter and counter.next, on_done = function(j, st)
  if st ~= 0 then run:print(string.format("exit %d: %s (see %s)", st, j.argv[#j.argv] or "", j.output)) end
end })
if counter then
  counter.free()
  dist.barrier() -- every rank's runs have ended
end
if not dist.is_main() then return end
run:print(string.format("all runs finished in %.0f s", sys.time() - t0))

local function contains(t, x)
  for _, y in ipairs(t) do if y == x then return true end end
  return false
end

-- A row per (variant, grid point): means over seeds of modes within 3
-- sigma, the high-quality share, KL of the high-quality histogram, KL with
-- every sample at its nearest mode (kl_all, for broad samples), the mean
-- distance to the nearest mode in sigmas, wall time and rate.
local nmodes = opt.dataset == "ring" and 8 or 25
local HEAD = { "variant", "settings", string.format("modes (of %d)", nmodes), "high-quality %", "KL (3 sigma)",
               "KL (all samples)", "distance (sigma)", "seconds", "it/s" }
local REF_HEAD = { "variant (PyTorch)", table.unpack(HEAD, 2) }
local lines, ref_lines = {}, {}
local FIELDS = { "modes", "hq_percent", "kl", "kl_all", "dist_sigma", "seconds", "it_per_s" }
local FMT = { "%.1f", "%.2f", "%.3f", "%.3f", "%.1f", "%.1f", "%.0f" }
local function collect(path_of, v, pt, what)
  local got = {}
  for _, f in ipairs(FIELDS) do got[f] = {} end
  for _, s in ipairs(seeds) do
    local r = sweep.read_json(path_of(s))
    if r then
      for _, f in ipairs(FIELDS) do got[f][#got[f] + 1] = r[f] or 0 / 0 end
    else
      run:print(string.format("missing %s for %s %s seed %s (%s)", what, v, sweep.point_name(pt), s, path_of(s)))
    end
  end
  if #got.modes == 0 then return nil end
  local cells = { v, sweep.point_name(pt) ~= "" and sweep.point_name(pt) or "default" }
  for i, f in ipairs(FIELDS) do cells[i + 2] = sweep.mean_sd(got[f], FMT[i]) end
  return got, cells
end
local summary = {}
local rows = {}
for _, v in ipairs(variants) do
  for _, pt in ipairs(points_for(v)) do
    local key = v .. sweep.point_dir(pt)
    local got, line = collect(function(s) return string.format("%s/%s_seed%s/summary.json", opt.out, key, s) end, v, pt,
      "result")
    if got then
      lines[#lines + 1] = line
      summary[key] = got
      summary[key].settings = sweep.point_name(pt)
    end
    if opt.reference and contains(ref_variants, v) then
      local tg, tline = collect(function(s) return string.format("%s/torch_%s_seed%s.json", opt.out, key, s) end, v, pt,
        "reference result")
      if tg then
        ref_lines[#ref_lines + 1] = tline
        summary[key] = summary[key] or {}
        summary[key].torch = tg
      end
    end
    -- this row's panels (the saved samples of --figure-seed)
    local dir = string.format("%s/%s_seed%d/samples", opt.out, key, opt.figure_seed)
    local panels = {}
    for _, name in ipairs(sys.listdir(dir) or {}) do
      local ep = tonumber(name:match("^epoch_(%d+)%.csv$"))
      if ep then panels[#panels + 1] = { samples = data.read_csv(dir .. "/" .. name), title = "epoch " .. ep, ep = ep } end
    end
    table.sort(panels, function(x, y) return x.ep < y.ep end)
    if #panels > 0 then
      rows[#rows + 1] = { label = sweep.point_name(pt) ~= "" and (v .. " " .. sweep.point_name(pt)) or v, panels = panels }
    end
  end
end

local ds = (opt.dataset == "ring" and data.gaussian_ring or data.gaussian_grid) { n = 2500, normalize = true }
for _, r in ipairs(rows) do r.panels[#r.panels + 1] = { samples = ds.x, title = "data" } end
local fig = opt.out .. "/sweep.png"
if #rows > 0 then
  assert(plot.panels(rows, fig, { centers = ds.centers,
    title = string.format("toy %s, seed %d: KDE of G's samples over training", opt.dataset, opt.figure_seed) }))
end
local md = sweep.markdown(HEAD, lines) .. (opt.reference and ("\n\n" .. sweep.markdown(REF_HEAD, ref_lines)) or "") .. "\n"
log.write_file(opt.out .. "/results.md", md)
log.write_json(opt.out .. "/summary.json", summary)
print(md)
-- the page comparing the runs (each run wrote its own report.html)
local page = report.compare(run_dirs, { out = opt.out .. "/index.html", metric = "d_loss",
                                        title = "toy sweep: " .. opt.variants .. " on " .. opt.dataset })
run:print("table: " .. opt.out .. "/results.md, figure: " .. fig .. ", pages: " .. page)
run:close()
