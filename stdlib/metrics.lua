-- ganlua.metrics: numbers for judging a generator.
local core = require "ganlua.core"
local T, A = core.tensor, core.autograd

local metrics = {}

-- modes(samples, centers, sigma [, {threshold = 3, min_share = 0.01}]) ->
-- {modes =, hq =, kl =, counts = {...}}
-- A sample is high quality when it lies within threshold * sigma of its
-- nearest centre (the test used for the ring/grid in Unrolled GAN's
-- replications). modes: centres holding at least min_share of the
-- high-quality samples; hq: high-quality percentage of all samples; kl:
-- KL(histogram of high-quality samples over centres || uniform), NaN when
-- no sample is high quality.
function metrics.modes(samples, centers, sigma, o)
  o = o or {}
  if not T.is_tensor(samples) or samples:dim() ~= 2 then error("metrics.modes: samples must be an N x d Tensor", 2) end
  if not T.is_tensor(centers) or centers:dim() ~= 2 or centers:size(2) ~= samples:size(2) then
    error("metrics.modes: centers must be a K x d Tensor matching the samples", 2)
  end
  if type(sigma) ~= "number" or sigma <= 0 then error("metrics.modes: sigma must be a positive number", 2) end
  local thr, share = o.threshold or 3, o.min_share or 0.01
  local n, k = samples:size(1), centers:size(1)
  local d2, nearest = A.no_grad(function()
    local diff = samples:detach():unsqueeze(2) - centers:unsqueeze(1) -- N x K x d
    return (diff * diff):sum(3):min(2)
  end)
  local within = d2:le((thr * sigma) ^ 2):totable()
  local idx = nearest:totable()
  local counts, hq = {}, 0
  for j = 1, k do counts[j] = 0 end
  for i = 1, n do
    if within[i] == 1 then
      hq = hq + 1
      counts[idx[i]] = counts[idx[i]] + 1
    end
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
  return { modes = covered, hq = 100 * hq / n, kl = kl, counts = counts, n = n }
end

-- mean pairwise Euclidean distance within a batch (rows flattened)
function metrics.pairwise_distance(x)
  return A.no_grad(function()
    local f = x:reshape(x:size(1), -1)
    local sq = (f * f):sum(2, true)
    local d2 = (sq + sq:t() - f:matmul(f:t()) * 2):clamp(0)
    local n = f:size(1)
    if n < 2 then return 0 end
    return d2:sqrt():sum():item() / (n * (n - 1))
  end)
end

-- diversity(fake, real): the fake batch's mean pairwise distance relative
-- to the real batch's; near 1 for a healthy generator, falling towards 0
-- when it collapses.
function metrics.diversity(fake, real)
  local r = metrics.pairwise_distance(real)
  if r == 0 then return 0 / 0 end
  return metrics.pairwise_distance(fake) / r
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
  local m = Classifier()
  ckpt.load(path, { model = m }, { rng = false })
  return m:eval()
end

-- evaluate fn over x in chunks, without a graph
local function chunked(x, fn, size)
  size = size or 500
  local outs = {}
  for i = 1, x:size(1), size do
    outs[#outs + 1] = A.no_grad(function() return fn(x:narrow(1, i, math.min(size, x:size(1) - i + 1))) end)
  end
  return T.cat(outs, 1)
end

local function as_images(x)
  if x:dim() == 2 then return x:reshape(x:size(1), 1, 28, 28) end
  return x
end

-- inception_score(samples, classifier [, {splits = 10}]) -> mean, std
-- exp(E_x KL(p(y|x) || p(y))) per split of the samples; the std is over
-- the splits, as in Salimans et al. 2016.
function metrics.inception_score(samples, classifier, o)
  o = o or {}
  local splits = o.splits or 10
  local x = as_images(samples)
  local n = x:size(1)
  if n < splits then error("inception_score: fewer samples than splits", 2) end
  local p = chunked(x, function(b) return classifier(b):softmax(2) end)
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
  local fr = chunked(as_images(real), function(b) return classifier:features(b) end)
  local ff = chunked(as_images(fake), function(b) return classifier:features(b) end)
  if fr:size(1) < 2 or ff:size(1) < 2 then error("fid: needs at least 2 samples of each", 2) end
  local m1, s1 = stats(fr)
  local m2, s2 = stats(ff)
  return C.frechet(m1, s1, m2, s2)
end

-- accuracy(classifier, x, labels) in percent
function metrics.accuracy(classifier, x, labels)
  local pred = chunked(as_images(x), function(b) return classifier(b):argmax(2) end)
  return 100 * pred:eq(labels:reshape(-1)):mean():item()
end

return metrics
