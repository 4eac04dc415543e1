-- ganlua.sweep: the grid, the job pool, the statistics and the table, and
-- toy_sweep.lua built on them, end to end on a tiny sweep.

test("sweep.grid and points: the product in the order given, keys that do not reach dropped", function()
  local axes = assert(sweep.grid("lr=1e-4,1e-3 epochs=5 lambda=1,10", { lr = "number", epochs = "integer", lambda = "number" }))
  check.eq(#axes, 3); check.eq(axes[1].key, "lr"); check.eq(axes[1].values[2], "1e-3")
  local pts = sweep.points(axes)
  check.eq(#pts, 4)
  check.eq(sweep.point_name(pts[1]), "lr=1e-4 epochs=5 lambda=1")
  check.eq(sweep.point_dir(pts[4]), "_lr1e-3_epochs5_lambda10")
  check.eq(table.concat(sweep.point_flags(pts[2]), " "), "--lr 1e-4 --epochs 5 --lambda 10")
  check.eq(#sweep.points(axes, function(k) return k ~= "lambda" end), 2)
  check.eq(#sweep.points({}), 1, "no axes: one empty point")
  local a, err = sweep.grid("lr=1e-4 bogus=1", { lr = "number" })
  check.truthy(a == nil and err:find("'bogus=1' is not key=v1,v2,... with a key among lr", 1, true), err)
  a, err = sweep.grid("epochs=3,0", { epochs = "integer" })
  check.truthy(a == nil and err:find("epochs value '0' must be a positive integer", 1, true), err)
  a, err = sweep.grid("lr=1e400", { lr = "number" })
  check.truthy(a == nil, "an infinite value is refused")
end)

test("sweep.stats, mean_sd and markdown", function()
  local m, sd, n = sweep.stats({ 2, 4, 0 / 0, 6 })
  check.near(m, 4, 1e-12); check.near(sd, 2, 1e-12); check.eq(n, 3)
  check.eq(sweep.stats({ 0 / 0 }), nil)
  check.eq(sweep.mean_sd({ 1, 2 }, "%.1f"), "1.5 ± 0.7")
  check.eq(sweep.mean_sd({ 3 }, "%.0f"), "3")
  check.eq(sweep.mean_sd({ 1, 0 / 0 }, "%.0f"), "1 (1 of 2 seeds)")
  check.eq(sweep.mean_sd({}, "%.0f"), "n/a")
  check.eq(sweep.markdown({ "a", "b" }, { { 1, "x" } }), "| a | b |\n| --- | --- |\n| 1 | x |")
end)

test("sweep.run: a pool of child processes, statuses in job order, fast jobs not waiting for slow ones", function()
  local dir = os.tmpname(); os.remove(dir); assert(sys.mkdir(dir))
  local order = {}
  local jobs = {
    { argv = { "sh", "-c", "sleep 0.6; echo slow" }, output = dir .. "/slow" },
    { argv = { "sh", "-c", "echo $WHO; exit 3" }, env = { WHO = "fast" }, output = dir .. "/fast" },
    { argv = { "sh", "-c", "echo third" }, output = dir .. "/third" },
    { argv = { "/nonexistent/program" }, output = dir .. "/missing" },
  }
  local t0 = sys.time()
  local st = sweep.run(jobs, { parallel = 2, on_done = function(j) order[#order + 1] = j.output:match("[^/]*$") end })
  check.eq(st[1], 0); check.eq(st[2], 3); check.eq(st[3], 0); check.eq(st[4], 127)
  check.truthy(order[#order] == "slow", "the slow job ends last: " .. table.concat(order, " "))
  check.truthy(sys.time() - t0 < 3, "the jobs ran side by side")
  local f = assert(io.open(dir .. "/fast")); check.eq(f:read("a"), "fast\n"); f:close()
  f = assert(io.open(dir .. "/missing")); check.truthy(f:read("a"):find("No such file", 1, true)); f:close()
  check.raises(function() sweep.run({ { argv = {} } }) end, "sweep.run: job 1 needs argv")
  check.raises(function() sweep.run({}, { paralel = 2 }) end, "did you mean 'parallel'?")
  check.eq(sweep.command_line({ argv = { "a b", "c" }, env = { X = "1" }, output = "o" }), "X='1' 'a b' 'c' > 'o' 2>&1")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("toy_sweep.lua end to end: two seeds side by side, one table row, the figure", function()
  local dir = os.tmpname(); os.remove(dir)
  local p = io.popen(string.format("%s scripts/toy_sweep.lua --variants vanilla --seeds 0,1 --epochs 2 --jobs 2 --out %s 2>&1",
    check.ganlua, dir))
  local out = p:read("a")
  local ok = p:close()
  check.truthy(ok, out)
  for _, s in ipairs { "0", "1" } do
    local r = sweep.read_json(dir .. "/vanilla_seed" .. s .. "/summary.json")
    check.truthy(r and r.modes, "seed " .. s .. " summary")
  end
  local f = assert(io.open(dir .. "/results.md")); local md = f:read("a"); f:close()
  check.truthy(md:find("| vanilla | default | ", 1, true), md)
  local _, rows = md:gsub("\n| vanilla", "")
  check.eq(rows, 1, "one row for the variant")
  check.truthy(io.open(dir .. "/sweep.png"), "the figure")
  f = assert(io.open(dir .. "/commands.txt")); check.truthy(f:read("a"):find("OPENBLAS_NUM_THREADS='1'", 1, true)); f:close()
  os.execute("rm -rf '" .. dir .. "'")
end)
