-- Short runs of scripts/toy_gan.lua (30 epochs, seed 0, one thread) with
-- thresholds on what each method reliably shows at that length (measured
-- first; see the issue notes): vanilla collapses onto one region, feature
-- matching alone spreads without converging, WGAN and minibatch
-- discrimination spread out. Margins are wide: the checks
-- are about the shape of the outcome, not its exact numbers.

local ring = data.gaussian_ring { n = 10, normalize = true }

local function run(variant, epochs, seed)
  local d = os.tmpname()
  os.remove(d)
  local cmd = string.format("OPENBLAS_NUM_THREADS=1 %s --threads 1 scripts/toy_gan.lua --variant %s --epochs %d "
    .. "--panels 1 --seed %d --out %s 2>&1", check.ganlua, variant, epochs, seed or 0, d)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local s = data.read_csv(string.format("%s/samples/epoch_%04d.csv", d, epochs))
  local summary = json.decode(assert(io.open(d .. "/summary.json")):read("a"))
  local lines = {}
  for l in io.lines(d .. "/metrics.jsonl") do lines[#lines + 1] = json.decode(l) end
  os.execute("rm -rf '" .. d .. "'")
  return {
    spread = s:std(1):mean():item(),               -- mean per-coordinate std of G's samples
    offset = s:mean(1):norm():item(),              -- distance of their mean from the data's mean (0)
    near = metrics.modes(s, ring.centers, ring.sigma, { threshold = 10 }).modes,
    summary = summary, lines = lines, out = out,
  }
end

local results = {}
local function get(v) results[v] = results[v] or run(v, 30) return results[v] end

test("vanilla GAN collapses onto one region", function()
  local r = get("vanilla")
  check.truthy(r.spread < 0.25, "vanilla spread " .. r.spread)
  check.truthy(r.near <= 2, "vanilla near modes " .. r.near)
  check.eq(r.summary.iterations, 30 * 79)
end)

-- Feature matching on D's ReLU features (the released code's choice)
-- spreads over the ring without converging onto its modes, as reported:
-- at 30 epochs, seeds 0 and 1, per-coordinate std 0.73 / 0.70 (the data's
-- is about 0.7), mean 0.05 / 0.06 from the data's, 0.2 / 0.3% high quality.
-- (On the linear pre-activation, used before, it collapsed onto the mean.)
test("feature matching alone spreads but does not converge", function()
  local r = get("fm")
  check.truthy(r.spread > 0.5, "fm spread " .. r.spread)
  check.truthy(r.offset < 0.2, "fm mean is " .. r.offset .. " from the data's")
  check.truthy(r.summary.hq_percent < 3, "fm high quality " .. r.summary.hq_percent)
end)

test("WGAN (weight clipping) spreads over the ring, beyond vanilla", function()
  local r, v = get("wgan"), get("vanilla")
  check.truthy(r.spread > 0.3, "wgan spread " .. r.spread)
  check.truthy(r.near >= v.near + 3, string.format("wgan near %d vs vanilla %d", r.near, v.near))
end)

-- Minibatch discrimination as released (improved-gan's init, self pair
-- excluded, bias): on the ring at 30 epochs it holds samples on 4-6 modes
-- with a near-uniform histogram (KL 0.49-0.92) where vanilla holds 0-1
-- (measured, seeds 0-2). Its high-quality share (1.5-2.4%) is not clearly
-- above vanilla's (0-3.2%: a collapsed blob sometimes sits on a mode), so
-- the test holds modes and KL. The N(0, 1) port failed this: its layer
-- was dead and D a vanilla D.
test("minibatch discrimination covers clearly more modes than vanilla", function()
  for _, seed in ipairs { 0, 1 } do
    local r = seed == 0 and get("minibatch") or run("minibatch", 30, seed)
    local v = seed == 0 and get("vanilla") or run("vanilla", 30, seed)
    local rm, vm = r.summary.modes, v.summary.modes
    check.truthy(rm >= vm + 3, string.format("seed %d: minibatch %d modes vs vanilla %d", seed, rm, vm))
    check.truthy(r.summary.kl and r.summary.kl < 1.2, string.format("seed %d: minibatch KL %s", seed, tostring(r.summary.kl)))
    check.truthy(r.spread > 0.3 and r.spread > 2 * v.spread, string.format("minibatch %.3f vs vanilla %.3f", r.spread, v.spread))
  end
end)

test("WGAN-GP logs the critic on held-out data beside training", function()
  local r = run("wgan_gp", 2)
  local seen = 0
  for _, l in ipairs(r.lines) do
    if l.d_loss_val then
      seen = seen + 1
      check.truthy(l.d_loss_val == l.d_loss_val and l.d_loss_train == l.d_loss_train)
    end
  end
  check.truthy(seen >= 1, "no d_loss_val lines")
  check.truthy(r.summary.modes ~= nil and r.summary.hq_percent ~= nil)
end)
