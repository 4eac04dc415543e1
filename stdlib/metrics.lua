-- ganlua.metrics: numbers for judging a generator.
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local T, A = core.tensor, core.autograd

local metrics = {}

-- modes(samples, centers, sigma [, {threshold = 3, min_share = 0.01}]) ->
-- {modes =, hq =, kl =, kl_all =, dist =, counts = {...}}
-- A sample is high quality when it lies within threshold * sigma of its
-- nearest centre (the test used for the ring/grid in Unrolled GAN's
-- replications). modes: centres holding at least min_share of the
-- high-quality samples; hq: high-quality percentage of all samples; kl:
-- KL(histogram of high-quality samples over centres || uniform), NaN when
-- no sample is high quality; kl_all: the same divergence with every sample
-- counted at its nearest centre (for samples too broad for the 3-sigma
-- test); dist: the mean distance to the nearest centre, in sigmas.
local MODES_OPTS = argcheck.options("metrics.modes", { threshold = { 3.0, positive = true }, min_share = { 0.01, min = 0, max = 1 } })
function metrics.modes(samples, centers, sigma, o)
  o = MODES_OPTS:check(o, 4)
  if not T.is_tensor(samples) or samples:dim() ~= 2 then argcheck.raise("metrics.modes: samples must be an N x d Tensor") end
  if not T.is_tensor(centers) or centers:dim() ~= 2 or centers:size(2) ~= samples:size(2) then
    argcheck.raise("metrics.modes: centers must be a K x d Tensor matching the samples")
  end
  if type(sigma) ~= "number" or sigma <= 0 then argcheck.raise("metrics.modes: sigma must be a positive number") end
  local thr, share = o.threshold, o.min_share
  local n, k = samples:size(1), centers:size(1)
  local d2, nearest = A.no_grad(function()
    local diff = samples:detach():unsqueeze(2) - centers:unsqueeze(1) -- N x K x d
    return (diff * diff):sum(3):min(2)
  end)
  local within = d2:le((thr * sigma) ^ 2):totable()
  local idx, dist = nearest:totable(), d2:sqrt():totable()
  local counts, all, hq, dsum = {}, {}, 0, 0
  for j = 1, k do counts[j], all[j] = 0, 0 end
  for i = 1, n do
    all[idx[i]] = all[idx[i]] + 1
    dsum = dsum + dist[i]
    if within[i] == 1 then
      hq = hq + 1
      counts[idx[i]] = counts[idx[i]] + 1
    end
  end
  -- every sample by its nearest mode, however far: the measure that still
  -- separates methods whose samples are too broad for the 3-sigma test
  local kl_all = 0
  for j = 1, k do
    local p = all[j] / n
    if p > 0 then kl_all = kl_all + p * math.log(p * k) end
  end
  local covered, kl = 0, 0 / 0
  if hq > 0 then
    kl = 0
    for j = 1, k do
      if counts[j] >= share * hq then covered = covered + 1 end
      local p = counts[j] / hq
      if p > 0 then kl = kl + p * math.log(p * k) end
    end
  end
  return { modes = covered, hq = 100 * hq / n, kl = kl, counts = counts, n = n, kl_all = n > 0 and kl_all or 0 / 0,
           dist = n > 0 and dsum / n / sigma or 0 / 0 }
end

-- mean pairwise Euclidean distance within a batch (rows flattened); x is
-- argument i of the public function name, whose caller an error points at
local function pdist(name, i, argname, x)
  if not T.is_tensor(x) or x:dim() < 1 then argcheck.fail(name, i, argname, "an N x ... Tensor", x) end
  local n = x:size(1)
  if n < 2 then return 0 end
  return A.no_grad(function()
    local f = x:reshape(n, x:numel() // n)
    local sq = (f * f):sum(2, true)
    local d2 = (sq + sq:t() - f:matmul(f:t()) * 2):clamp(0)
    return d2:sqrt():sum():item() / (n * (n - 1))
  end)
end

function metrics.pairwise_distance(x) return (pdist("metrics.pairwise_distance", 1, "x", x)) end

-- diversity(fake, real): the fake batch's mean pairwise distance relative
-- to the real batch's; near 1 for a healthy generator, falling towards 0
-- when it collapses.
function metrics.diversity(fake, real)
  local f = pdist("metrics.diversity", 1, "fake", fake)
  local r = pdist("metrics.diversity", 2, "real", real)
  if r == 0 then return 0 / 0 end
  return f / r
end

---------------------------------------------- MNIST-classifier scores

-- These are the classifier-based scores MNIST GAN papers report: the
-- Inception Score and FID computed with a small CNN trained on MNIST
-- (scripts/mnist_classifier.lua), NOT with ImageNet's Inception network.
-- Numbers are comparable between runs that use the same classifier file,
-- not with ImageNet-Inception scores.

local nn = require "ganlua.nn"
local ckpt = require "ganlua.ckpt"
local C = core.nn

-- The classifier: two stride-2 convolutions and a 128-unit hidden layer
-- (the features FID compares), 10 logits. Inputs N x 1 x 28 x 28 in [-1, 1].
local Classifier = nn.Module:extend("MnistClassifier")
function Classifier:init()
  self.body = nn.Sequential {
    nn.Conv2d(1, 32, 4, { stride = 2, padding = 1 }), nn.LeakyReLU(0.1),
    nn.Conv2d(32, 64, 4, { stride = 2, padding = 1 }), nn.LeakyReLU(0.1),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
  }
  self.head = nn.Linear(128, 10)
end
function Classifier:features(x) return self.body(x) end
function Classifier:forward(x) return self.head(self.body(x)) end
metrics.MnistClassifier = Classifier

function metrics.load_mnist_classifier(path)
  argcheck.string("metrics.load_mnist_classifier", 1, path, "path")
  local m = Classifier()
  argcheck.within("metrics.load_mnist_classifier", ckpt.load, path, { model = m }, { rng = false })
  return m:eval()
end

-- evaluate fn over x in chunks, without a graph; fn's outputs must be
-- N x k Tensors (name and what describe them in an error)
local function chunked(name, what, x, fn, size)
  size = size or 500
  local outs = {}
  for i = 1, x:size(1), size do
    local len = math.min(size, x:size(1) - i + 1)
    local y = A.no_grad(function() return fn(x:narrow(1, i, len)) end)
    if not T.is_tensor(y) or y:dim() ~= 2 or y:size(1) ~= len then
      argcheck.raise(string.format("%s: %s must return an N x k Tensor for N images, got %s for %d", name, what,
        T.is_tensor(y) and table.concat(y:size(), "x") or argcheck.typename(y), len))
    end
    outs[#outs + 1] = y
  end
  return T.cat(outs, 1)
end

-- samples as N x C x H x W images: N x 784 rows are MNIST images
local function as_images(name, i, argname, x)
  if not T.is_tensor(x) or x:dim() < 2 or x:size(1) < 1 or (x:dim() == 2 and x:size(2) ~= 28 * 28) then
    argcheck.raise(string.format("%s: argument %d (%s) must be N x 784 or N x C x H x W images, got %s", name, i, argname,
      T.is_tensor(x) and table.concat(x:size(), "x") or argcheck.typename(x)))
  end
  if x:dim() == 2 then return x:reshape(x:size(1), 1, 28, 28) end
  return x
end

-- inception_score(samples, classifier [, {splits = 10}]) -> mean, std
-- exp(E_x KL(p(y|x) || p(y))) per split of the samples; the std is over
-- the splits, as in Salimans et al. 2016.
local IS_OPTS = argcheck.options("metrics.inception_score", { splits = { 10, min = 1 } })
function metrics.inception_score(samples, classifier, o)
  local x = as_images("metrics.inception_score", 1, "samples", samples)
  argcheck.callable("metrics.inception_score", 2, classifier, "classifier")
  local splits = IS_OPTS:check(o, 3).splits
  local n = x:size(1)
  if n < splits then argcheck.raise("inception_score: fewer samples than splits") end
  local p = chunked("inception_score", "the classifier", x, function(b) return classifier(b) end):softmax(2)
  local scores = {}
  local per = n // splits
  for k = 0, splits - 1 do
    local part = p:narrow(1, k * per + 1, per)
    local py = part:mean(1, true)
    local eps = 1e-12
    local kl = (part * ((part + eps):log() - (py + eps):log())):sum(2):mean():item()
    scores[#scores + 1] = math.exp(kl)
  end
  local mean = 0
  for _, s in ipairs(scores) do mean = mean + s end
  mean = mean / #scores
  local var = 0
  for _, s in ipairs(scores) do var = var + (s - mean) ^ 2 end
  return mean, math.sqrt(var / #scores)
end

local function stats(f)
  local mu = f:mean(1)
  local c = f - mu
  return mu, c:t():matmul(c) / (f:size(1) - 1)
end

-- fid(real, fake, classifier) -> Fréchet distance between Gaussians fitted
-- to the classifier's 128 features of real and generated images.
function metrics.fid(real, fake, classifier)
  local xr = as_images("metrics.fid", 1, "real", real)
  local xf = as_images("metrics.fid", 2, "fake", fake)
  if type(classifier) ~= "table" or type(classifier.features) ~= "function" then
    argcheck.fail("metrics.fid", 3, "classifier", "a classifier with a features method", classifier)
  end
  if xr:size(1) < 2 or xf:size(1) < 2 then argcheck.raise("fid: needs at least 2 samples of each") end
  local fr = chunked("fid", "classifier:features", xr, function(b) return classifier:features(b) end)
  local ff = chunked("fid", "classifier:features", xf, function(b) return classifier:features(b) end)
  if fr:size(2) ~= ff:size(2) then
    argcheck.raise(string.format("fid: %d features for real images but %d for fake ones", fr:size(2), ff:size(2)))
  end
  local m1, s1 = stats(fr)
  local m2, s2 = stats(ff)
  return C.frechet(m1, s1, m2, s2)
end

-- accuracy(classifier, x, labels) in percent
function metrics.accuracy(classifier, x, labels)
  argcheck.callable("metrics.accuracy", 1, classifier, "classifier")
  x = as_images("metrics.accuracy", 2, "x", x)
  if type(labels) == "table" then labels = T.from(labels) end
  if not T.is_tensor(labels) or labels:numel() ~= x:size(1) then
    argcheck.raise(string.format("metrics.accuracy: argument 3 (labels) must hold one class per image (%d), got %s", x:size(1),
      T.is_tensor(labels) and table.concat(labels:size(), "x") or argcheck.typename(labels)))
  end
  local scores = chunked("accuracy", "the classifier", x, function(b) return classifier(b) end)
  return 100 * scores:argmax(2):eq(labels:reshape(-1)):mean():item()
end

-- Kuhn-Munkres (the Hungarian method) on an n x n cost matrix (a table of
-- rows): the assignment row i -> col[i] of least total cost, in O(n^3)
-- (the potentials form of Jonker-Volgenant's shortest augmenting path)
local function hungarian(cost, n)
  local INF = math.huge
  local u, v, p, way = {}, {}, {}, {}
  for j = 0, n do u[j], v[j], p[j], way[j] = 0, 0, 0, 0 end
  for i = 1, n do
    p[0] = i
    local j0, minv, used = 0, {}, {}
    for j = 0, n do minv[j], used[j] = INF, false end
    repeat
      used[j0] = true
      local i0, delta, j1 = p[j0], INF, 0
      for j = 1, n do
        if not used[j] then
          local cur = cost[i0][j] - u[i0] - v[j]
          if cur < minv[j] then minv[j], way[j] = cur, j0 end
          if minv[j] < delta then delta, j1 = minv[j], j end
        end
      end
      for j = 0, n do
        if used[j] then u[p[j]], v[j] = u[p[j]] + delta, v[j] - delta else minv[j] = minv[j] - delta end
      end
      j0 = j1
    until p[j0] == 0
    repeat
      local j1 = way[j0]
      p[j0] = p[j1]
      j0 = j1
    until j0 == 0
  end
  local col = {}
  for j = 1, n do if p[j] ~= 0 then col[p[j]] = j end end
  return col
end

-- matched_accuracy(pred, labels) -> percent, mapping: the accuracy of
-- cluster ids pred against classes labels (both N integers >= 1, Tensors
-- or tables) under the one-to-one map of clusters to classes that agrees
-- most often (the Hungarian method on the contingency table), as
-- clustering accuracy is reported; mapping[c] is cluster c's class.
-- InfoGAN's "5 % error" for its categorical code is this measure.
function metrics.matched_accuracy(pred, labels)
  local function ints(v, i, name)
    if type(v) == "table" then v = T.from(v) end
    if not T.is_tensor(v) or v:numel() == 0 then argcheck.fail("metrics.matched_accuracy", i, name, "a non-empty list of classes", v) end
    local t = v:reshape(-1):totable()
    for k, x in ipairs(t) do
      if x ~= math.floor(x) or x < 1 or x > 1000 then
        argcheck.raise(string.format("metrics.matched_accuracy: argument %d (%s): entry %d is %s, expected an integer in 1..1000", i,
          name, k, tostring(x)))
      end
    end
    return t
  end
  local a, b = ints(pred, 1, "pred"), ints(labels, 2, "labels")
  if #a ~= #b then
    argcheck.raise(string.format("metrics.matched_accuracy: %d predictions for %d labels", #a, #b))
  end
  local n = 0
  for k = 1, #a do n = math.max(n, a[k], b[k]) end
  local counts = {}
  for i = 1, n do counts[i] = {} for j = 1, n do counts[i][j] = 0 end end
  for k = 1, #a do counts[a[k]][b[k]] = counts[a[k]][b[k]] + 1 end
  local cost = {}
  for i = 1, n do cost[i] = {} for j = 1, n do cost[i][j] = -counts[i][j] end end
  local col = hungarian(cost, n)
  local hits = 0
  for i = 1, n do hits = hits + counts[i][col[i]] end
  return 100 * hits / #a, col
end

return metrics
