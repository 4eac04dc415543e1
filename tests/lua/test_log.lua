-- log: run directories (config.json, a copy of the script), metrics.jsonl
-- lines, the progress display, and the JSON they are written in.

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d
end
local function rm(d) os.execute("rm -rf '" .. d:gsub("'", "'\\''") .. "'") end
local slurp = check.read
local function listing(dir)
  local names = {}
  local p = io.popen("ls -A '" .. dir .. "'")
  for l in p:lines() do names[#names + 1] = l end
  p:close()
  table.sort(names)
  return table.concat(names, " ")
end

-- print and io.write captured while fn runs
local function capture(fn)
  local out = {}
  local old_print, old_write = print, io.write
  print = function(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    out[#out + 1] = table.concat(t, "\t") .. "\n"
  end
  io.write = function(...) for _, s in ipairs { ... } do out[#out + 1] = tostring(s) end end
  local ok, err = pcall(fn)
  print, io.write = old_print, old_write
  if not ok then error(err, 0) end
  return table.concat(out)
end

test("log.run makes the directory with its parents, config.json and a copy of the script", function()
  local dir = tmpdir()
  local script = os.tmpname() .. ".lua"
  local sf = assert(io.open(script, "w")); sf:write("-- the script\nprint(1)\n"); sf:close()
  local opts = assert(cli.parse({ epochs = 2, lambda = 0.1, name = 'a "q"\n' },
    { "--out", dir .. "/nested/run", "--seed", "3", "--epochs=5" }, script))
  local run = log.run(opts, { quiet = true })
  run:close()
  local out = dir .. "/nested/run"
  local want = { "config.json", "metrics.jsonl", "report.html", script:match("[^/]*$") }
  table.sort(want)
  check.eq(listing(out), table.concat(want, " ")) -- no temporary files left (the report's charts included)
  local text = slurp(out .. "/config.json")
  local cfg = json.decode(text)
  check.eq(cfg.options.epochs, 5); check.eq(cfg.options.lambda, 0.1); check.eq(cfg.options.name, 'a "q"\n')
  check.eq(cfg.options.out, out); check.eq(cfg.options.seed, 3); check.eq(cfg.options._script, nil)
  check.eq(cfg.seed, 3); check.eq(cfg.ganlua, ganlua.version); check.eq(cfg.script, script)
  check.eq(table.concat(cfg.args, " "), "--out " .. out .. " --seed 3 --epochs=5")
  check.truthy(cfg.date:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"), cfg.date)
  check.eq(math.type(cfg.threads), "integer")
  -- the end, recorded by close for the report page
  check.truthy(cfg.finished:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"), cfg.finished)
  check.truthy(cfg.seconds >= 0 and cfg.seconds < 60, cfg.seconds)
  -- the same facts seen with string patterns, independent of json.decode
  check.truthy(text:find('"seed":3', 1, true) and text:find('"ganlua":"' .. ganlua.version .. '"', 1, true), text)
  check.truthy(text:find('"name":"a \\"q\\"\\n"', 1, true), text)
  check.eq(slurp(out .. "/" .. script:match("[^/]*$")), "-- the script\nprint(1)\n")
  -- a new run never writes into an earlier run's directory: out-2, then out-3
  local before = slurp(out .. "/config.json")
  run = log.run(opts, { quiet = true }); run:step(1); run:close()
  check.eq(opts.out, out .. "-2"); check.eq(run.dir, out .. "-2")
  opts.out = out
  run = log.run(opts, { quiet = true }); run:step(2); run:close()
  check.eq(opts.out, out .. "-3")
  check.eq(slurp(out .. "/config.json"), before, "the first run's config is untouched")
  check.eq(slurp(out .. "/metrics.jsonl"), "", "and so are its metrics")
  -- resuming from a checkpoint inside the directory continues it (appends)
  opts.out, opts.resume = out, out .. "/ckpt.safetensors"
  run = log.run(opts, { quiet = true }); run:step(3); run:close()
  check.eq(opts.out, out)
  check.truthy(slurp(out .. "/metrics.jsonl"):find('"step":3', 1, true))
  opts.resume = nil
  -- a start that fails (the script to copy is gone) leaves no directory
  local gone = dir .. "/never"
  check.raises(function() log.run({ out = gone, _script = script .. ".missing" }, { quiet = true }) end,
    "log.run: cannot copy the script")
  check.eq(sys.listdir(gone), nil, "no empty run directory left")
  rm(dir); os.remove(script)
end)

test("log.run: errors name what went wrong", function()
  check.raises(function() log.run({ out = "/proc/nope/x" }) end, "log.run: cannot create directory /proc/nope")
  local f = os.tmpname() -- a file where a directory should be
  check.raises(function() log.run({ out = f }) end, "exists and is not a directory")
  check.raises(function() log.run({ out = f .. "/sub" }) end, "cannot create directory")
  os.remove(f)
  check.raises(function() log.run({}) end, "expected the options table")
  check.raises(function() log.run("runs/x") end, "expected the options table")
  local dir = tmpdir()
  check.raises(function() log.run({ out = dir, _script = dir .. "/missing.lua" }) end, "cannot copy the script")
  check.raises(function() log.run({ out = dir }, { every = 0 }) end, "option every: expected an integer >= 1, got 0")
  local run = log.run({ out = dir }, { quiet = true })
  check.raises(function() run:scalar("x", "high") end, "'x' must be a number")
  check.raises(function() run:scalar(3, 1) end, "the name must be")
  check.raises(function() run:scalar("step", 1) end, "'step' is the step number")
  check.raises(function() run:step(1.5) end, "the step must be an integer")
  run:close()
  run:close() -- idempotent
  check.raises(function() run:step() end, "the run is closed")
  rm(dir)
end)

test("metrics.jsonl: one line per step, step first, non-finite values as null", function()
  local dir = tmpdir()
  local run = log.run({ out = dir }, { quiet = true })
  local f32 = tensor.from({ 0.1 }):item() -- a float32 value, as losses are
  for i = 1, 3 do
    run:scalar("d_loss", i / 2)
    run:scalar("odd", i == 2 and 0 / 0 or i)
    run:scalar("f32", f32)
    run:step(i, { epoch = 1, phase = "train" })
  end
  run:scalar("pinf", math.huge); run:scalar("ninf", -math.huge); run:scalar("t", tensor.full({ 1 }, 0.5))
  run:scalar("ok", true)
  run:step() -- one past the last: 4
  run:step() -- a step with no scalars
  run:close()
  local raw, lines = {}, {}
  for l in io.lines(dir .. "/metrics.jsonl") do raw[#raw + 1] = l; lines[#lines + 1] = json.decode(l) end
  check.eq(#lines, 5)
  check.eq(raw[1], '{"step":1,"epoch":1,"phase":"train","d_loss":0.5,"odd":1,"f32":0.1}')
  check.eq(raw[2], '{"step":2,"epoch":1,"phase":"train","d_loss":1,"odd":null,"f32":0.1}')
  check.eq(lines[2].odd, nil); check.eq(lines[3].odd, 3); check.eq(lines[3].d_loss, 1.5)
  -- 0.1 read back and stored as float32 is the same float32
  check.eq(string.unpack("f", string.pack("f", lines[1].f32)), f32)
  check.eq(raw[4], '{"step":4,"pinf":null,"ninf":null,"t":0.5,"ok":true}')
  check.eq(raw[5], '{"step":5}')
  rm(dir)
end)

test("log.scalar and log.step write to the most recently opened run", function()
  check.raises(function() log.scalar("x", 1) end, "no open run")
  local dir = tmpdir()
  local run = log.run({ out = dir }, { quiet = true })
  log.scalar("loss", 0.25); log.step()
  log.scalar("loss", 0.5); log.step(10, { epoch = 2 })
  run:close()
  check.raises(function() log.step() end, "no open run")
  check.eq(slurp(dir .. "/metrics.jsonl"), '{"step":1,"loss":0.25}\n{"step":10,"epoch":2,"loss":0.5}\n')
  rm(dir)
end)

test("metrics.jsonl is flushed at every step (a crash loses nothing)", function()
  local dir = tmpdir()
  local run = log.run({ out = dir }, { quiet = true })
  run:scalar("loss", 1.25); run:step(1)
  check.eq(slurp(dir .. "/metrics.jsonl"), '{"step":1,"loss":1.25}\n') -- before close
  run:close()
  rm(dir)
end)

test("a <close> variable closes the run", function()
  local dir = tmpdir()
  local kept
  do
    local run <close> = log.run({ out = dir }, { quiet = true })
    kept = run
  end
  check.eq(kept.file, nil)
  rm(dir)
end)

test("progress: a plain line every `every` steps when stdout is not a terminal", function()
  local dir = tmpdir()
  local run = log.run({ out = dir }, { every = 2 })
  run.tty = false -- whatever runs the tests
  run:set_total(5)
  local out = capture(function()
    for i = 1, 5 do run:scalar("loss", 1 / i); run:step(i) end
    run:print("a message")
    run:close()
  end)
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  check.eq(#lines, 4, out) -- steps 2, 4, 5 (the last) and the message
  check.truthy(lines[1]:find("40% [", 1, true) and lines[1]:find("2/5", 1, true) and lines[1]:find("loss 0.5000", 1, true), lines[1])
  check.truthy(lines[1]:find("it/s, eta ", 1, true), lines[1])
  check.truthy(lines[3]:find("100%", 1, true) and lines[3]:find("5/5", 1, true) and lines[3]:find("loss 0.2000", 1, true), lines[3])
  check.eq(lines[4], "a message")
  check.truthy(not out:find("\r", 1, true))
  rm(dir)
end)

test("progress: on a terminal one line redrawn in place", function()
  local dir = tmpdir()
  local run = log.run({ out = dir })
  run.tty = true
  local out = capture(function()
    run:scalar("d_loss", 0.25); run:step(1)          -- drawn (the first)
    run:scalar("d_loss", 0.125); run:step(2)         -- within 0.1 s: not drawn yet
    run:print("epoch 1 done")                        -- clears, prints, redraws
    run:close()                                      -- ends the line
  end)
  check.truthy(out:find("^\rstep 1, [%d.]+ it/s, 0:00  d_loss 0.2500\27%[K"), out)
  check.truthy(out:find("\r\27[Kepoch 1 done\n\rstep 2", 1, true), out)
  check.truthy(out:sub(-#"d_loss 0.1250\27[K\n") == "d_loss 0.1250\27[K\n", out)
  -- no total: elapsed time; with a total: percentage, bar, ETA
  run = log.run({ out = dir }, { quiet = true })
  run:set_total(100)
  run.n = 25
  local line = run:status_line()
  check.truthy(line:find(" 25% [=====               ] 25/100", 1, true) and line:find("eta ", 1, true), line)
  run:close()
  rm(dir)
end)

test("gan_stats records D's means, gradient norms and diversity, and warns on collapse", function()
  local real = tensor.randn(64, 2)
  check.near(metrics.diversity(real, real), 1, 1e-6)
  check.near(metrics.diversity(tensor.zeros(64, 2), real), 0, 1e-6)
  -- mean pairwise distance of two points at distance 5
  check.near(metrics.pairwise_distance(tensor.from { { 0, 0 }, { 3, 4 } }), 5, 1e-5)
  local dir = tmpdir()
  local run = log.run({ out = dir }, { quiet = true })
  local G = nn.Linear(2, 2)
  local l = G(real):sum()
  l:backward()
  local said = capture(function()
    run:gan_stats { step = 7, G = G, real = real, fake = real * 0.01, d_real = tensor.ones(4), d_fake = tensor.zeros(4) }
    run:gan_stats { step = 8, real = real, fake = real * 0.01 }
  end)
  run:step(7)
  run:close()
  local _, n = said:gsub("\n", "")
  check.eq(n, 1) -- warned once
  check.truthy(said:find("step 7", 1, true) and said:find("collapsing", 1, true), said)
  local line = json.decode(io.open(dir .. "/metrics.jsonl"):read("l"))
  check.eq(line.d_real, 1); check.eq(line.d_fake, 0)
  check.near(line.diversity, 0.01, 1e-4)
  local want = 0
  for _, p in ipairs(G:parameters()) do want = want + (p.grad * p.grad):sum():item() end
  check.near(line.grad_norm_G, math.sqrt(want), 1e-6)
  rm(dir)
end)

test("json: numbers round-trip with few digits, strings escape, arrays vs objects", function()
  for _, v in ipairs { 0.1, 1 / 3, 2e-4, 0.1 + 0.2, -1.5e-300, 1e300, 123456789.125, 2 ^ 53 + 0.0 } do
    check.eq(json.decode(json.encode(v)), v, "round trip of " .. string.format("%.17g", v))
  end
  check.eq(json.encode(0.1), "0.1"); check.eq(json.encode(2e-4), "0.0002"); check.eq(json.encode(7), "7")
  check.eq(json.encode(0 / 0), "null"); check.eq(json.encode(-math.huge), "null")
  check.eq(json.encode('a"b\\c\n\t\1'), '"a\\"b\\\\c\\n\\t\\u0001"')
  check.eq(json.encode { 1, 2, { x = true } }, '[1,2,{"x":true}]')
  check.eq(json.encode { b = 1, a = { "s" } }, '{"a":["s"],"b":1}')
  check.eq(json.encode {}, "{}")
  check.eq(json.decode('"\\u00e9\\ud83d\\ude00"'), "é😀")
  local t = {}
  t.self = t
  check.raises(function() json.encode(t) end, "contains itself")
end)

test("log.write_json is atomic: a failed write leaves the old file", function()
  local dir = tmpdir()
  assert(sys.mkdir(dir))
  assert(log.write_json(dir .. "/a.json", { v = 1 }))
  check.eq(slurp(dir .. "/a.json"), '{"v":1}\n')
  check.raises(function() log.write_json(dir .. "/a.json", { v = print }) end, "cannot encode a function")
  check.eq(slurp(dir .. "/a.json"), '{"v":1}\n')
  check.raises(function() log.write_json(dir .. "/no/such/dir/b.json", {}) end, "No such file")
  check.eq(listing(dir), "a.json")
  rm(dir)
end)
