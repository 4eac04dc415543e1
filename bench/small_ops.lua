-- bench/small_ops.lua — per-op overhead and matmul throughput through ganlua.
--   ganlua --threads T bench/small_ops.lua ops        -> adds/s without and with autograd (best of 5 x 2e5)
--   ganlua --threads T bench/small_ops.lua matmul N   -> GFLOP/s of a:matmul(b), N x N
--   ganlua bench/small_ops.lua alloc                 -> allocator cache misses after warm-up
local clock = sys.time
local what = arg[1] or "ops"
if what == "ops" then
  -- the best of five rounds of 2e5 adds (the same rule as the PyTorch side),
  -- so a collector cycle or a frequency dip in one round does not decide it
  local a, b = tensor.randn(4, 4), tensor.randn(4, 4)
  local function rate()
    local n, best = 200000, 0
    for _ = 1, 1000 do local _ = a + b end
    for _ = 1, 5 do
      local t0 = clock()
      for _ = 1, n do local _ = a + b end
      best = math.max(best, n / (clock() - t0))
    end
    return best
  end
  local plain = rate()
  a:requires_grad()
  local grad = rate()
  print(string.format("%.0f %.0f", plain, grad))
elseif what == "matmul" then
  local n = tonumber(arg[2]) or 512
  local a, b = tensor.randn(n, n), tensor.randn(n, n)
  local reps = n <= 128 and 2000 or (n <= 512 and 50 or 10)
  for _ = 1, 3 do local _ = a:matmul(b) end
  local t0 = clock()
  for _ = 1, reps do local _ = a:matmul(b) end
  print(string.format("%.2f", 2 * n ^ 3 / ((clock() - t0) / reps) / 1e9))
elseif what == "alloc" then
  local a, b = tensor.randn(64, 64), tensor.randn(64, 64)
  for _ = 1, 4000 do local _ = a:matmul(b) + a end
  local m0 = tensor.memory().mallocs
  for _ = 1, 10000 do local _ = a:matmul(b) + a end
  print(string.format("%d", tensor.memory().mallocs - m0))
end
