-- cli.options parsing, run directories and metrics lines.

local spec = {
  epochs = 200,
  lambda = { 10.0, "fm weight" },
  variant = { "vanilla", "GAN variant", choices = { "vanilla", "fm", "wgan" } },
  plot = true,
  sample_interval = 50,
  name = "run",
}

test("parse: defaults, --k v, --k=v, --no-flag, dashes, globals", function()
  local o = assert(cli.parse(spec, {}, "x.lua"))
  check.eq(o.epochs, 200); check.eq(o.lambda, 10.0); check.eq(o.variant, "vanilla"); check.eq(o.plot, true)
  check.eq(o.seed, 0); check.truthy(o.out:find("^runs/x/"))
  o = assert(cli.parse(spec, { "--epochs", "3", "--lambda=2.5", "--no-plot", "--sample-interval", "7",
    "--variant", "fm", "--seed", "9", "--out", "/tmp/r", "--name=a b" }, "x.lua"))
  check.eq(o.epochs, 3); check.eq(math.type(o.epochs), "integer"); check.eq(o.lambda, 2.5)
  check.eq(o.plot, false); check.eq(o.sample_interval, 7); check.eq(o.variant, "fm"); check.eq(o.seed, 9)
  check.eq(o.out, "/tmp/r"); check.eq(o.name, "a b")
  o = assert(cli.parse(spec, { "--plot", "false" }))
  check.eq(o.plot, false)
  o = assert(cli.parse(spec, { "--plot", "--epochs", "1" }))
  check.eq(o.plot, true); check.eq(o.epochs, 1)
  check.eq(math.type(assert(cli.parse(spec, { "--lambda", "3" })).lambda), "float")
end)

test("parse: unknown names (with a suggestion), wrong types, choices, missing values", function()
  local _, err = cli.parse(spec, { "--lamda", "3" }, "x.lua")
  check.eq(err, "unknown option --lamda (did you mean --lambda?)")
  _, err = cli.parse(spec, { "--epochs", "ten" })
  check.eq(err, "--epochs: expected an integer, got 'ten'")
  _, err = cli.parse(spec, { "--epochs", "2.5" })
  check.truthy(err:find("expected an integer", 1, true))
  _, err = cli.parse(spec, { "--lambda", "x" })
  check.eq(err, "--lambda: expected a number, got 'x'")
  _, err = cli.parse(spec, { "--variant", "dcgan" })
  check.eq(err, "--variant: 'dcgan' is not one of vanilla, fm, wgan")
  _, err = cli.parse(spec, { "--epochs" })
  check.eq(err, "--epochs needs a value")
  _, err = cli.parse(spec, { "stray" })
  check.truthy(err:find("unexpected argument 'stray'", 1, true))
  _, err = cli.parse(spec, { "--zzzzzzz", "1" })
  check.eq(err, "unknown option --zzzzzzz")
  _, err = cli.parse(spec, { "--help" })
  check.eq(err, "help")
  check.raises(function() cli.parse({ variant = { "x", "d", choices = { "a" } } }, {}) end, "not among its choices")
end)

test("usage lists every option with type, default and description", function()
  local u = cli.usage(spec, "toy.lua")
  for _, want in ipairs { "usage: ganlua toy.lua", "--lambda", "number", "fm weight (default 10.0)",
                          "--sample-interval", "{vanilla, fm, wgan}", "--seed", "--threads", "--out" } do
    check.truthy(u:find(want, 1, true), "usage lacks " .. want)
  end
end)

test("scripts: --help exits 0, a bad option exits 2 with one line", function()
  local script = os.tmpname() .. ".lua"
  local f = assert(io.open(script, "w"))
  f:write('local o = cli.options{ epochs = 5, variant = { "a", "which", choices = { "a", "b" } } }\nprint("ran", o.epochs)\n')
  f:close()
  local function run(args)
    local p = io.popen(string.format("%s %s %s 2>&1; echo \"rc=$?\"", check.ganlua, script, args))
    local out = p:read("a")
    p:close()
    return out
  end
  local out = run("--help")
  check.truthy(out:find("--epochs", 1, true) and out:find("rc=0", 1, true), out)
  check.truthy(not out:find("ran\t", 1, true), "help must not run the script")
  out = run("--epochs 7")
  check.truthy(out:find("ran\t7", 1, true) and out:find("rc=0", 1, true), out)
  out = run("--epoch 7")
  check.truthy(out:find("unknown option --epoch (did you mean --epochs?)", 1, true) and out:find("rc=2", 1, true), out)
  check.truthy(not out:find("ran\t", 1, true))
  out = run("--variant c")
  check.truthy(out:find("'c' is not one of a, b", 1, true) and out:find("rc=2", 1, true), out)
  os.remove(script)
end)

test("log.run writes config.json, metrics.jsonl lines and a copy of the script", function()
  local dir = os.tmpname()
  os.remove(dir)
  local script = os.tmpname() .. ".lua"
  local sf = assert(io.open(script, "w")); sf:write("-- the script\n"); sf:close()
  local opts = assert(cli.parse({ epochs = 2 }, { "--out", dir .. "/nested/run", "--seed", "3" }, script))
  local run = log.run(opts, { quiet = true })
  for i = 1, 3 do
    run:scalar("d_loss", i / 2)
    run:scalar("odd", i == 2 and 0 / 0 or i)
    run:step(i, { epoch = 1 })
  end
  run:close()
  local cfg = json.decode(assert(io.open(dir .. "/nested/run/config.json")):read("a"))
  check.eq(cfg.options.epochs, 2); check.eq(cfg.seed, 3); check.eq(cfg.ganlua, ganlua.version)
  check.eq(cfg.script, script)
  local lines = {}
  for l in io.lines(dir .. "/nested/run/metrics.jsonl") do lines[#lines + 1] = json.decode(l) end
  check.eq(#lines, 3)
  check.eq(lines[2].step, 2); check.eq(lines[2].epoch, 1); check.eq(lines[2].d_loss, 1.0)
  check.eq(lines[2].odd, nil) -- NaN is written as null
  check.truthy(assert(io.open(dir .. "/nested/run/metrics.jsonl")):read("a"):find('"odd":null', 1, true))
  check.eq(lines[3].odd, 3)
  local copy = assert(io.open(dir .. "/nested/run/" .. script:match("[^/]*$"))):read("a")
  check.eq(copy, "-- the script\n")
  os.execute("rm -rf '" .. dir .. "'"); os.remove(script)
  check.raises(function() log.run({ out = "/proc/nope/x" }) end, "cannot create directory")
end)

test("progress lines when not on a terminal", function()
  local dir = os.tmpname()
  os.remove(dir)
  local run = log.run({ out = dir }, { every = 2 })
  run:set_total(4)
  local out = {}
  local old = print
  print = function(...) out[#out + 1] = table.concat({ ... }, "\t") end
  for i = 1, 4 do run:scalar("loss", 1 / i); run:step(i) end
  print = old
  run:close()
  check.eq(#out, 2)
  check.truthy(out[2]:find("100%", 1, true) and out[2]:find("4/4", 1, true) and out[2]:find("loss 0.2500", 1, true), out[2])
  os.execute("rm -rf '" .. dir .. "'")
end)

test("gan_stats records D's means, gradient norms and diversity, and warns on collapse", function()
  local real = tensor.randn(64, 2)
  check.near(metrics.diversity(real, real), 1, 1e-6)
  check.near(metrics.diversity(tensor.zeros(64, 2), real), 0, 1e-6)
  -- mean pairwise distance of two points at distance 5
  check.near(metrics.pairwise_distance(tensor.from { { 0, 0 }, { 3, 4 } }), 5, 1e-5)
  local dir = os.tmpname()
  os.remove(dir)
  local run = log.run({ out = dir }, { quiet = true })
  local G = nn.Linear(2, 2)
  local l = G(real):sum()
  l:backward()
  local said = {}
  local old = print
  print = function(...) said[#said + 1] = table.concat({ ... }, " ") end
  run:gan_stats { step = 7, G = G, real = real, fake = real * 0.01, d_real = tensor.ones(4), d_fake = tensor.zeros(4) }
  run:gan_stats { step = 8, real = real, fake = real * 0.01 }
  print = old
  run:step(7)
  run:close()
  check.eq(#said, 1) -- warned once
  check.truthy(said[1]:find("step 7", 1, true) and said[1]:find("collapsing", 1, true), said[1])
  local line = json.decode(io.open(dir .. "/metrics.jsonl"):read("l"))
  check.eq(line.d_real, 1); check.eq(line.d_fake, 0)
  check.near(line.diversity, 0.01, 1e-4)
  local want = 0
  for _, p in ipairs(G:parameters()) do want = want + (p.grad * p.grad):sum():item() end
  check.near(line.grad_norm_G, math.sqrt(want), 1e-6)
  os.execute("rm -rf '" .. dir .. "'")
end)
