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

return metrics
