-- cli: option specs, parsing (cli.parse is pure: opts or nil, message), the
-- --help text, and the exit statuses of a script run by the ganlua binary.

local spec = {
  epochs = 200,
  lambda = { 10.0, "fm weight" },
  variant = { "vanilla", "GAN variant", choices = { "vanilla", "fm", "wgan" } },
  plot = true,
  sample_interval = 50,
  name = "run",
  width = { 2, "a number written as an integer", type = "number" },
  k = { 4, "one of a few", choices = { 1, 2, 4 } },
  clip = { type = "number", desc = "no default" },
}

local function parse(argv) return cli.parse(spec, argv, "x.lua") end
local function err_of(argv)
  local o, err = parse(argv)
  check.eq(o, nil, "expected an error for " .. table.concat(argv, " "))
  return err
end

test("cli.parse: defaults and inferred types", function()
  local o = assert(parse {})
  check.eq(o.epochs, 200); check.eq(math.type(o.epochs), "integer")
  check.eq(o.lambda, 10.0); check.eq(math.type(o.lambda), "float")
  check.eq(o.variant, "vanilla"); check.eq(o.plot, true); check.eq(o.name, "run")
  check.eq(o.width, 2.0); check.eq(math.type(o.width), "float") -- type = "number" wins over the literal
  check.eq(o.k, 4); check.eq(o.clip, nil)
  check.eq(o._script, "x.lua")
end)

test("cli.parse: --k v, --k=v, booleans, dashes and underscores", function()
  local o = assert(parse { "--epochs", "3", "--lambda=2.5", "--no-plot", "--sample-interval", "7",
    "--variant", "fm", "--name=a b", "--width", "3", "--k=2", "--clip", "-1e-2" })
  check.eq(o.epochs, 3); check.eq(math.type(o.epochs), "integer"); check.eq(o.lambda, 2.5)
  check.eq(o.plot, false); check.eq(o.sample_interval, 7); check.eq(o.variant, "fm"); check.eq(o.name, "a b")
  check.eq(o.width, 3.0); check.eq(math.type(o.width), "float"); check.eq(o.k, 2); check.eq(o.clip, -0.01)
  check.eq(assert(parse { "--sample_interval=9" }).sample_interval, 9)
  check.eq(assert(parse { "--plot", "false" }).plot, false)
  check.eq(assert(parse { "--plot=false" }).plot, false)
  check.eq(assert(parse { "--no-plot", "--plot" }).plot, true) -- the last one wins
  o = assert(parse { "--plot", "--epochs", "1" })              -- a bare flag does not eat the next option
  check.eq(o.plot, true); check.eq(o.epochs, 1)
  check.eq(math.type(assert(parse { "--lambda", "3" }).lambda), "float")
  check.eq(assert(parse { "--epochs", "1e3" }).epochs, 1000)
  check.eq(assert(parse { "--name=" }).name, "")
  check.eq(assert(parse { "--name", "x=y" }).name, "x=y")
end)

test("cli.parse: --seed, --threads and --out are always there; a script's own defaults win", function()
  local o = assert(parse {})
  check.eq(o.seed, 0); check.eq(o.threads, 0)
  check.truthy(o.out:match("^runs/x/%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d$"), o.out)
  check.truthy(assert(cli.parse({}, {}, "dir/toy_gan.lua")).out:find("^runs/toy_gan/"))
  o = assert(parse { "--seed", "9", "--threads", "2", "--out", "/tmp/r" })
  check.eq(o.seed, 9); check.eq(o.threads, 2); check.eq(o.out, "/tmp/r")
  o = assert(cli.parse({ seed = 7, out = "runs/mine" }, { "--threads=1" }))
  check.eq(o.seed, 7); check.eq(o.out, "runs/mine"); check.eq(o.threads, 1)
  check.eq(err_of { "--threads", "-1" }, "--threads: expected 0 to 1024, got '-1'")
  check.eq(err_of { "--seed", "x" }, "--seed: expected an integer, got 'x'")
end)

test("cli.parse: unknown options name the closest valid one", function()
  check.eq(err_of { "--lamda", "3" }, "unknown option --lamda (did you mean --lambda?)")
  check.eq(err_of { "--epoch=3" }, "unknown option --epoch (did you mean --epochs?)")
  check.eq(err_of { "--sample-intervl", "3" }, "unknown option --sample-intervl (did you mean --sample-interval?)")
  check.eq(err_of { "--sample", "3" }, "unknown option --sample (did you mean --sample-interval?)") -- a prefix
  check.eq(err_of { "--sed", "3" }, "unknown option --sed (did you mean --seed?)")
  check.eq(err_of { "--zzzzzzzzz", "1" }, "unknown option --zzzzzzzzz")
  check.eq(err_of { "--no-epochs" }, "unknown option --no-epochs (did you mean --epochs?)") -- not a boolean
end)

test("cli.parse: wrong types, choices, missing values, stray arguments", function()
  check.eq(err_of { "--epochs", "ten" }, "--epochs: expected an integer, got 'ten'")
  check.eq(err_of { "--epochs", "2.5" }, "--epochs: expected an integer, got '2.5'")
  check.eq(err_of { "--lambda", "x" }, "--lambda: expected a number, got 'x'")
  check.eq(err_of { "--plot=maybe" }, "--plot: expected true or false, got 'maybe'")
  check.eq(err_of { "--no-plot=1" }, "--no-plot takes no value (write --plot=1)")
  check.eq(err_of { "--variant", "dcgan" }, "--variant: 'dcgan' is not one of vanilla, fm, wgan")
  check.eq(err_of { "--k", "3" }, "--k: '3' is not one of 1, 2, 4")
  check.eq(err_of { "--epochs" }, "--epochs: missing value (expected an integer)")
  check.eq(err_of { "--name", "--epochs", "3" }, "--name: missing value (expected a string)")
  check.eq(err_of { "stray" }, "unexpected argument 'stray' (options look like --name value)")
  check.eq(err_of { "--epochs", "3", "4" }, "unexpected argument '4' (options look like --name value)")
  check.eq(err_of { "-x" }, "unexpected argument '-x' (options look like --name value)")
  check.eq(err_of { "--lamda", "1", "--help" }, "help") -- --help anywhere wins
  check.eq(err_of { "-h" }, "help")
end)

test("cli: a malformed spec is a programming error and raises", function()
  check.raises(function() cli.parse({ variant = { "x", "d", choices = { "a" } } }, {}) end, "not among its choices")
  check.raises(function() cli.parse({ n = { 1, "d", type = "float" } }, {}) end, "unknown type 'float'")
  check.raises(function() cli.parse({ n = { 1.5, type = "integer" } }, {}) end, "is not an integer")
  check.raises(function() cli.parse({ n = { 1, choise = { 1 } } }, {}) end, "unknown field 'choise'")
  check.raises(function() cli.parse({ f = print }, {}) end, "the default must be")
  check.raises(function() cli.parse({ help = true }, {}) end, "reserved")
  check.raises(function() cli.parse({ ["a-b"] = 1, a_b = 2 }, {}) end, "declared twice")
  check.raises(function() cli.parse({ 5 }, {}) end, "option names must be identifiers")
  -- the error points at the caller's line, not into cli.lua
  local err = check.raises(function() cli.parse({ n = { 1, type = "bogus" } }, {}) end)
  check.truthy(err:find("test_cli.lua", 1, true), err)
end)

test("cli.describe drops the private fields; _args keeps the command line", function()
  local o = assert(parse { "--epochs", "3" })
  check.eq(o._args[1], "--epochs"); check.eq(o._args[2], "3")
  local d = cli.describe(o)
  check.eq(d.epochs, 3); check.eq(d.seed, 0); check.eq(d._script, nil); check.eq(d._args, nil)
  d.epochs = 1
  check.eq(o.epochs, 3) -- a copy
end)

test("cli.usage lists every option with its type, default, choices and description", function()
  local u = cli.usage(spec, "toy.lua")
  for _, want in ipairs { "usage: ganlua toy.lua [--option value ...]", "--lambda", "number", "fm weight (default 10.0)",
                          "--sample-interval", "--[no-]plot", "boolean", "(default true)",
                          'GAN variant (default "vanilla") {vanilla, fm, wgan}', "{1, 2, 4}", "(default none)",
                          "--seed", "--threads", "--out", "runs/toy/", "-h, --help" } do
    check.truthy(u:find(want, 1, true), "usage lacks " .. want .. ":\n" .. u)
  end
  -- a declared --seed is listed once, with the script's default
  local v = cli.usage({ seed = { 5, "my seed" } }, "s.lua")
  local _, count = v:gsub("%-%-seed", "")
  check.eq(count, 1)
  check.truthy(v:find("my seed (default 5)", 1, true), v)
end)

-- a small script run by the binary: ganlua script args... -> output, status
local function script_runner(body)
  local script = os.tmpname() .. ".lua"
  local f = assert(io.open(script, "w"))
  f:write(body)
  f:close()
  local function run(args)
    local p = io.popen(string.format("%s %s %s 2>&1; echo \"rc=$?\"", check.ganlua, script, args))
    local out = p:read("a")
    p:close()
    return out:match("^(.-)rc=(%d+)%s*$")
  end
  return run, script
end

test("cli.options in a script: --help exits 0 without running it", function()
  local run, script = script_runner('local o = cli.options{ epochs = 5, variant = { "a", "which one", choices = { "a", "b" } } }\n'
    .. 'print("ran", o.epochs, o.variant, o.seed, o.threads, tensor.get_num_threads())\n')
  local out, rc = run("--help")
  check.eq(rc, "0", out)
  check.truthy(out:find("usage: ganlua " .. script, 1, true), out)
  check.truthy(out:find("--epochs", 1, true) and out:find("which one", 1, true) and out:find("{a, b}", 1, true), out)
  check.truthy(not out:find("ran\t", 1, true), "help must not run the script")
  out, rc = run("-h")
  check.eq(rc, "0", out)
  out, rc = run("--epochs 7 --variant=b --threads 1")
  check.eq(rc, "0", out)
  check.truthy(out:find("ran\t7\tb\t0\t1\t1", 1, true), out)
  os.remove(script)
end)

test("cli.options in a script: a mistake is one line on stderr and exit status 2", function()
  local run, script = script_runner('local o = cli.options{ epochs = 5, lambda = 1.5, variant = { "a", "which", choices = { "a", "b" } } }\n'
    .. 'print("ran")\n')
  local name = script:match("[^/]*$")
  for args, want in pairs {
    ["--epoch 7"] = "unknown option --epoch (did you mean --epochs?)",
    ["--lamda 3"] = "unknown option --lamda (did you mean --lambda?)",
    ["--epochs ten"] = "--epochs: expected an integer, got 'ten'",
    ["--variant c"] = "--variant: 'c' is not one of a, b",
    ["--lambda"] = "--lambda: missing value (expected a number)",
    ["stray"] = "unexpected argument 'stray' (options look like --name value)",
  } do
    local out, rc = run(args)
    check.eq(rc, "2", args .. ": " .. out)
    check.eq(out, name .. ": " .. want .. "\n", args)
  end
  -- stderr alone carries the message; stdout stays empty
  local p = io.popen(string.format("%s %s --bogus 2>/dev/null", check.ganlua, script))
  check.eq(p:read("a"), "")
  p:close()
  os.remove(script)
end)

test("cli.options seeds the RNG with --seed", function()
  local run, script = script_runner('cli.options{}\nprint(string.format("%.7f", tensor.rand(1):item()))\n')
  local a = run("--seed 3")
  local b = run("--seed 3")
  local c = run("--seed 4")
  check.eq(a, b); check.truthy(a ~= c, "different seeds gave the same numbers")
  os.remove(script)
end)

-- Range constraints: min, max, positive; every number option finite. A bad
-- value stops the run before any work, naming the option.
test("cli.parse: min, max, positive and finite", function()
  local sp = { epochs = { 200, "passes", positive = true }, batch = { 64, "batch", min = 2, max = 4096 },
               lambda = { 10.0, "weight", min = 0 }, lr = { type = "number", desc = "lr", positive = true } }
  local function p(argv) return cli.parse(sp, argv, "x.lua") end
  local o = p { "--epochs", "3", "--batch", "2", "--lambda", "0", "--lr", "1e-3" }
  check.eq(o.epochs, 3); check.eq(o.batch, 2); check.eq(o.lambda, 0.0); check.eq(o.lr, 1e-3)
  local _, m = p { "--epochs", "-5" }
  check.eq(m, "--epochs: expected a positive integer, got '-5'")
  _, m = p { "--batch", "1" }
  check.eq(m, "--batch: expected an integer >= 2, got '1'")
  _, m = p { "--batch", "5000" }
  check.eq(m, "--batch: expected an integer <= 4096, got '5000'")
  _, m = p { "--lambda", "1e400" }
  check.eq(m, "--lambda: expected a finite number, got '1e400'")
  _, m = p { "--lr", "0" }
  check.eq(m, "--lr: expected a positive number, got '0'")
  -- even without a declared range, a number option is finite
  _, m = cli.parse({ w = 1.0 }, { "--w", "-1e999" }, "x.lua")
  check.eq(m, "--w: expected a finite number, got '-1e999'")
  -- the declaration is checked too, and the help text shows the range
  check.raises(function() cli.parse({ e = { 0, "e", positive = true } }, {}, "x.lua") end, "the default 0 is out of its range")
  check.raises(function() cli.parse({ e = { "a", "e", min = 1 } }, {}, "x.lua") end, "min, max and positive need a number option")
  check.truthy(cli.usage(sp, "x.lua"):find("[>= 2 and <= 4096]", 1, true))
end)

test("toy_gan.lua refuses a bad option value before training (exit 2, the option named)", function()
  local p = io.popen(check.ganlua .. " scripts/toy_gan.lua --panels 0 --out /nonexistent/x 2>&1; echo \"exit $?\"")
  local out = p:read("a")
  p:close()
  check.truthy(out:find("--panels: expected a positive integer, got '0'", 1, true) and out:find("exit 2", 1, true), out)
end)
