-- Toy mixtures, batching, and the mode-coverage metric on constructed
-- point sets.

test("gaussian_ring: centres on the circle, normalised into [-1, 1]", function()
  local ds = data.gaussian_ring { n = 4000, modes = 8, radius = 2, std = 0.02 }
  check.shape(ds.x, { 4000, 2 })
  check.shape(ds.centers, { 8, 2 })
  check.allclose(ds.centers:norm(2, 2), 2, 1e-6)
  check.near(ds.centers[3]:totable()[2], 2, 1e-6) -- mode 3 at 90 degrees
  -- each sample is within a few std of its own centre
  local own = ds.centers:index_select(1, ds.labels)
  check.truthy((ds.x - own):abs():max():item() < 0.02 * 6)
  local m = ds.x:abs():max():item()
  ds:normalize()
  check.near(ds.x:abs():max():item(), 1, 1e-6)
  check.near(ds.sigma, 0.02 / m, 1e-9)
  check.allclose(ds.centers:norm(2, 2), 2 / m, 1e-6)
end)

test("gaussian_grid has 25 modes on a 5 x 5 grid", function()
  local ds = data.gaussian_grid { n = 1000 }
  check.shape(ds.centers, { 25, 2 })
  check.allclose(ds.centers:min(1), { -4, -4 })
  check.allclose(ds.centers:max(1), { 4, 4 })
end)

test("batches: sizes, drop_last, shuffle covers every sample once", function()
  local ds = data.dataset(tensor.arange(10):reshape(10, 1))
  local sizes = {}
  for b in ds:batches(4) do sizes[#sizes + 1] = b:size(1) end
  check.eq(table.concat(sizes, ","), "4,4,2")
  sizes = {}
  for b in ds:batches(4, { drop_last = true }) do sizes[#sizes + 1] = b:size(1) end
  check.eq(table.concat(sizes, ","), "4,4")
  check.eq(ds:num_batches(4), 3)
  local seen, order = {}, {}
  for b in ds:batches(3, { shuffle = true }) do
    for _, v in ipairs(b:reshape(-1):totable()) do seen[v] = (seen[v] or 0) + 1; order[#order + 1] = v end
  end
  for v = 0, 9 do check.eq(seen[v], 1) end
  check.truthy(table.concat(order, ",") ~= "0,1,2,3,4,5,6,7,8,9", "shuffled")
  -- the same seed gives the same order
  local function first(seed)
    tensor.manual_seed(seed)
    local b = ds:batches(10, { shuffle = true })()
    return table.concat(b:reshape(-1):totable(), ",")
  end
  check.eq(first(7), first(7))
end)

test("batches with labels keep pairs together", function()
  local ds = data.dataset(tensor.arange(6):reshape(6, 1), tensor.arange(6) * 10)
  for x, y in ds:batches(4, { shuffle = true }) do check.allclose(y, x:reshape(-1) * 10) end
end)

local centers = tensor.from { { 1, 0 }, { 0, 1 }, { -1, 0 }, { 0, -1 } }

test("metrics.modes: all modes covered evenly", function()
  local pts = {}
  for i = 1, 400 do
    local c = centers[(i - 1) % 4 + 1]:totable()
    pts[i] = { c[1] + 0.01 * math.sin(i), c[2] + 0.01 * math.cos(i) }
  end
  local m = metrics.modes(tensor.from(pts), centers, 0.02)
  check.eq(m.modes, 4)
  check.near(m.hq, 100, 1e-9)
  check.near(m.kl, 0, 1e-9)
end)

test("metrics.modes: collapse onto one mode", function()
  local pts = {}
  for i = 1, 100 do pts[i] = { 0.005 * math.sin(i), 1 + 0.005 * math.cos(i) } end
  local m = metrics.modes(tensor.from(pts), centers, 0.02)
  check.eq(m.modes, 1)
  check.near(m.hq, 100, 1e-9)
  check.near(m.kl, math.log(4), 1e-6) -- KL(one-hot || uniform over 4) = log 4
end)

test("metrics.modes: off-mode points are not high quality; 1% rule", function()
  local pts = {}
  for i = 1, 50 do pts[i] = { 0.5, 0.5 } end            -- between modes
  for i = 51, 149 do pts[i] = { 1, 0 } end              -- 99 on mode 1
  pts[150] = { 0, 1 }                                   -- 1 on mode 2 (1% of 100 HQ)
  local m = metrics.modes(tensor.from(pts), centers, 0.02)
  check.near(m.hq, 100 * 100 / 150, 1e-9)
  check.eq(m.counts[1], 99)
  check.eq(m.counts[2], 1)
  check.eq(m.modes, 2)
  local none = metrics.modes(tensor.from { { 5, 5 } }, centers, 0.02)
  check.eq(none.modes, 0)
  check.truthy(none.kl ~= none.kl, "KL is NaN without high-quality samples")
  check.raises(function() metrics.modes(tensor.ones(3, 3), centers, 0.02) end, "centers must be a K x d Tensor")
end)

-- kl_all counts every sample at its nearest mode however far it is, and
-- dist is the mean distance to that mode in sigmas: the measures for
-- samples too broad for the 3-sigma test
test("metrics.modes: kl_all and dist for broad samples", function()
  local pts = {}
  for i = 1, 400 do -- 0.2 (10 sigma) outside each mode in turn: no point is high quality
    local c = centers[(i - 1) % 4 + 1]:totable()
    pts[i] = { c[1] * 1.2, c[2] * 1.2 }
  end
  local m = metrics.modes(tensor.from(pts), centers, 0.02)
  check.near(m.hq, 0, 1e-9)
  check.near(m.kl_all, 0, 1e-9)
  check.near(m.dist, 10, 1e-4)
  local one = {}
  for i = 1, 10 do one[i] = { 0.5 + 0.001 * i, 0.4 } end -- all nearest to mode 1, off it
  local m1 = metrics.modes(tensor.from(one), centers, 0.02)
  check.near(m1.kl_all, math.log(4), 1e-6)
end)

-- toy_sweep.lua's own checks: each mistake exits 2 with one line before any
-- run (the --out path does not exist, so a run would fail differently)
local function sweep_refuses(args, message)
  local p = io.popen(string.format("%s scripts/toy_sweep.lua %s --epochs 1 --out /nonexistent/x 2>&1; echo \"exit $?\"",
    check.ganlua, args))
  local out = p:read("a")
  p:close()
  check.truthy(out:find(message, 1, true) and out:find("exit 2", 1, true), out)
end

test("toy_sweep.lua --grid refuses a key it cannot sweep, and a bad value", function()
  sweep_refuses("--variants vanilla --seeds 0 --grid 'lr=1e-4 bogus=1'", "'bogus=1' is not key=v1,v2")
  sweep_refuses("--variants vanilla --seeds 0 --grid 'epochs=10,2.5'", "epochs value '2.5' must be a positive integer")
end)

test("toy_sweep.lua refuses an unknown variant and a bad seed before any run", function()
  sweep_refuses("--variants vanilla,bogus --seeds 0", "--variants: unknown variant 'bogus'")
  sweep_refuses("--variants vanilla --seeds 0,x", "--seeds: 'x' is not a non-negative integer")
end)

test("CSV round trip", function()
  local x = tensor.randn(7, 2)
  local path = os.tmpname()
  assert(data.write_csv(x, path, "x,y"))
  check.allclose(data.read_csv(path), x, 1e-6)
  os.remove(path)
end)

-- classifier-based scores on constructed inputs
local C = require("ganlua.core").nn

test("frechet distance: closed forms", function()
  -- diagonal covariances: |mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2
  local d = C.frechet(tensor.from { 1, 2 }, tensor.from { { 4, 0 }, { 0, 9 } },
                      tensor.from { 0, 0 }, tensor.from { { 1, 0 }, { 0, 1 } })
  check.near(d, 5 + 1 + 4, 1e-9)
  -- invariant under a common rotation
  local c, s = math.cos(0.3), math.sin(0.3)
  local R = tensor.from { { c, -s }, { s, c } }
  local S1 = R:matmul(tensor.from { { 4, 0 }, { 0, 9 } }):matmul(R:t())
  local S2 = R:matmul(tensor.from { { 1, 0 }, { 0, 2 } }):matmul(R:t())
  local d2 = C.frechet(tensor.from { 0, 0 }, S1, tensor.from { 0, 0 }, S2)
  check.near(d2, (2 - 1) ^ 2 + (3 - math.sqrt(2)) ^ 2, 1e-5)
  check.raises(function() C.frechet(tensor.zeros(2), tensor.eye(3), tensor.zeros(2), tensor.eye(2)) end, "frechet")
end)

test("inception score of a stub classifier: k confident classes give k", function()
  -- a "classifier" whose logits put all mass on class (i mod k) for sample i
  local function stub(k)
    return function(x)
      local n = x:size(1)
      local rows = {}
      for i = 1, n do
        local r = {}
        for j = 1, 10 do r[j] = (j == (math.floor(tensor._get(x, (i - 1) * 784 + 1)) % k) + 1) and 50 or 0 end
        rows[i] = r
      end
      return tensor.from(rows)
    end
  end
  local x = tensor.zeros(200, 1, 28, 28)
  for i = 1, 200 do tensor._set(x, (i - 1) * 784 + 1, i) end
  local is4 = metrics.inception_score(x, stub(4))
  check.near(is4, 4, 1e-3)
  local is1 = metrics.inception_score(x, stub(1))
  check.near(is1, 1, 1e-6)
end)

test("metrics.matched_accuracy: the best one-to-one map, checked against every permutation", function()
  local acc, map = metrics.matched_accuracy({ 1, 1, 2, 2, 3, 3 }, { 2, 2, 3, 3, 1, 1 })
  check.eq(acc, 100)
  check.eq(table.concat(map, ","), "2,3,1")
  -- purity would say 75 % here (both clusters mostly class 2); one-to-one gives 50 %
  check.eq((metrics.matched_accuracy({ 1, 1, 1, 2 }, { 1, 2, 2, 2 })), 50)
  -- against brute force over all 720 maps of 6 clusters
  local perms = {}
  local function rec(a, k)
    if k > #a then perms[#perms + 1] = { table.unpack(a) } return end
    for i = k, #a do a[k], a[i] = a[i], a[k]; rec(a, k + 1); a[k], a[i] = a[i], a[k] end
  end
  rec({ 1, 2, 3, 4, 5, 6 }, 1)
  check.eq(#perms, 720)
  tensor.manual_seed(3)
  for _ = 1, 20 do
    local p, l = tensor.randint(1, 7, { 60 }):totable(), tensor.randint(1, 7, { 60 }):totable()
    local best = 0
    for _, pm in ipairs(perms) do
      local h = 0
      for k = 1, 60 do if pm[p[k]] == l[k] then h = h + 1 end end
      best = math.max(best, h)
    end
    check.near((metrics.matched_accuracy(tensor.from(p), l)), 100 * best / 60, 1e-9)
  end
  check.raises(function() metrics.matched_accuracy({ 1, 2 }, { 1 }) end, "2 predictions for 1 labels")
  check.raises(function() metrics.matched_accuracy({ 0, 1 }, { 1, 1 }) end, "entry 1 is 0")
  check.raises(function() metrics.matched_accuracy({}, { 1 }) end, "pred")
end)
