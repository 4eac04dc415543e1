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
--
-- --grid runs every variant at every point of the product of the listed
-- toy_gan.lua options (space-separated key=v1,v2,...); lambda reaches only
-- fm_lambda and n_critic only the WGANs, so the others are not repeated
-- for them. Each point is a row of the table and of the figure.
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
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- the grid: {key, values} in the order given; a point is {key = value, ...}
local GRID_KEYS = { lr = "number", epochs = "integer", lambda = "number", n_critic = "integer", batch = "integer" }
local ONLY = { lambda = { fm_lambda = true }, n_critic = { wgan = true, wgan_gp = true } }
local axes = {}
for item in opt.grid:gmatch("%S+") do
  local k, vs = item:match("^([%w_%-]+)=(.+)$")
  k = k and k:gsub("%-", "_")
  if not k or not GRID_KEYS[k] then
    io.stderr:write(string.format("toy_sweep.lua: --grid: '%s' is not key=v1,v2,... with a key among lr, epochs, "
      .. "lambda, n_critic, batch\n", item))
    os.exit(2)
  end
  local vals = {}
  for w in vs:gmatch("[^,]+") do
    local x = tonumber(w)
    if not x or (GRID_KEYS[k] == "integer" and math.tointeger(x) == nil) or x <= 0 then
      io.stderr:write(string.format("toy_sweep.lua: --grid: %s value '%s' must be a positive %s\n", k, w, GRID_KEYS[k]))
      os.exit(2)
    end
    vals[#vals + 1] = w
  end
  axes[#axes + 1] = { key = k, values = vals }
end
-- the points of the grid that variant v sees (keys that do not reach it dropped)
local function points_for(v)
  local pts = { {} }
  for _, ax in ipairs(axes) do
    if not ONLY[ax.key] or ONLY[ax.key][v] then
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
local function has(point, key)
  for _, kv in ipairs(point) do if kv[1] == key then return true end end
  return false
end
local function point_name(point) -- "lr=1e-4 epochs=1000", "" for none
  local t = {}
  for _, kv in ipairs(point) do t[#t + 1] = kv[1] .. "=" .. kv[2] end
  return table.concat(t, " ")
end
local function point_dir(point) -- "_lr1e-4_epochs1000"
  local t = {}
  for _, kv in ipairs(point) do t[#t + 1] = "_" .. kv[1] .. kv[2] end
  return table.concat(t)
end
local function point_flags(point)
  local t = {}
  for _, kv in ipairs(point) do t[#t + 1] = string.format("--%s %s", kv[1]:gsub("_", "-"), kv[2]) end
  if not has(point, "epochs") then t[#t + 1] = "--epochs " .. opt.epochs end
  return table.concat(t, " ")
end

local run = log.run(opt) -- after the grid is known to be good: a mistake leaves no run directory

-- one shell command per run, run `jobs` at a time by xargs
local cmds = {}
for _, v in ipairs(variants) do
  for _, pt in ipairs(points_for(v)) do
    for _, s in ipairs(seeds) do
      local dir = string.format("%s/%s%s_seed%s", opt.out, v, point_dir(pt), s)
      local done = opt.keep and io.open(dir .. "/summary.json")
      if done then
        done:close()
      else -- OPENBLAS_NUM_THREADS=1: no idle BLAS worker spinning beside each run
        cmds[#cmds + 1] = string.format("OPENBLAS_NUM_THREADS=1 %s --threads 1 %s --variant %s --seed %s %s "
          .. "--dataset %s --out %s > %s 2>&1", q(exe), q(here .. "/toy_gan.lua"), v, s, point_flags(pt), opt.dataset,
          q(dir), q(dir .. ".log"))
      end
    end
  end
end
if opt.reference then
  if not os.execute("/usr/bin/python3 -c 'import torch' 2>/dev/null") then
    io.stderr:write("toy_sweep.lua: --reference needs Debian's python3-torch (`make bench` installs it)\n")
    os.exit(2)
  end
  for _, v in ipairs(ref_variants) do
    for _, pt in ipairs(points_for(v)) do
      for _, s in ipairs(seeds) do
        local res = string.format("%s/torch_%s%s_seed%s.json", opt.out, v, point_dir(pt), s)
        local done = opt.keep and io.open(res)
        local ok = done and done:read("a"):find("it_per_s", 1, true)
        if done then done:close() end
        if not ok then
          cmds[#cmds + 1] = string.format("OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 %s --variant %s "
            .. "--seed %s %s --dataset %s --threads 1 > %s 2>&1", q(here .. "/../bench/toy_gan_torch.py"), v, s,
            point_flags(pt):gsub("%-%-n%-critic", "--n_critic"), opt.dataset, q(res))
        end
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

-- A row per (variant, grid point): means over seeds of modes within 3
-- sigma, the high-quality share, KL of the high-quality histogram, KL with
-- every sample at its nearest mode (kl_all, for broad samples), the mean
-- distance to the nearest mode in sigmas, wall time and rate.
local HEAD = "| variant | settings | modes (of %d) | high-quality %% | KL (3 sigma) | KL (all samples) | distance (sigma) | seconds | it/s |"
local RULE = "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
local nmodes = opt.dataset == "ring" and 8 or 25
local lines = { string.format(HEAD, nmodes), RULE }
local ref_lines = { string.format(HEAD:gsub("| variant |", "| variant (PyTorch) |", 1), nmodes), RULE }
local FIELDS = { "modes", "hq_percent", "kl", "kl_all", "dist_sigma", "seconds", "it_per_s" }
local FMT = { "%.1f", "%.2f", "%.3f", "%.3f", "%.1f", "%.1f", "%.0f" }
local function collect(path_of, v, pt, what)
  local got = {}
  for _, f in ipairs(FIELDS) do got[f] = {} end
  for _, s in ipairs(seeds) do
    local r = read_json(path_of(s))
    if r then
      for _, f in ipairs(FIELDS) do got[f][#got[f] + 1] = r[f] or 0 / 0 end
    else
      run:print(string.format("missing %s for %s %s seed %s (%s)", what, v, point_name(pt), s, path_of(s)))
    end
  end
  if #got.modes == 0 then return nil end
  local cells = {}
  for i, f in ipairs(FIELDS) do cells[i] = pm(got[f], FMT[i]) end
  return got, string.format("| %s | %s | %s |", v, point_name(pt) ~= "" and point_name(pt) or "default",
    table.concat(cells, " | "))
end
local summary = {}
local rows = {}
for _, v in ipairs(variants) do
  for _, pt in ipairs(points_for(v)) do
    local key = v .. point_dir(pt)
    local got, line = collect(function(s) return string.format("%s/%s_seed%s/summary.json", opt.out, key, s) end, v, pt,
      "result")
    if got then
      lines[#lines + 1] = line
      summary[key] = got
      summary[key].settings = point_name(pt)
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
      rows[#rows + 1] = { label = point_name(pt) ~= "" and (v .. " " .. point_name(pt)) or v, panels = panels }
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
local md = table.concat(lines, "\n") .. (opt.reference and ("\n\n" .. table.concat(ref_lines, "\n")) or "") .. "\n"
local fh = assert(io.open(opt.out .. "/results.md", "w"))
fh:write(md)
fh:close()
log.write_json(opt.out .. "/summary.json", summary)
print(md)
run:print("table: " .. opt.out .. "/results.md, figure: " .. fig)
run:close()
