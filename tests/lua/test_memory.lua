-- Memory: a long training-like loop stays flat without collectgarbage,
-- because tensor bytes are reported to the Lua GC and buffers are reused.

local function rss_kb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- one step of a small MLP GAN-like update: forward, backward, SGD
local function make_step()
  local W1 = (tensor.randn(32, 64) * 0.1):requires_grad()
  local W2 = (tensor.randn(64, 1) * 0.1):requires_grad()
  local params = { W1, W2 }
  return function()
    local x = tensor.randn(128, 32)
    local h = x:matmul(W1):leaky_relu(0.2)
    local loss = (h:matmul(W2):sigmoid() - 1):pow(2):mean()
    loss:backward()
    autograd.no_grad(function()
      for _, p in ipairs(params) do p:sub_(p.grad, 0.01); p.grad = nil end
    end)
    return loss
  end
end

test("a 20000-step training loop stays flat in RSS and tensor memory", function()
  local step = make_step()
  for _ = 1, 3000 do step() end
  local rss0, live0 = rss_kb(), tensor.memory().live_bytes
  local peak_live = 0
  for i = 1, 17000 do
    step()
    if i % 1000 == 0 then peak_live = math.max(peak_live, tensor.memory().live_bytes) end
  end
  local rss1 = rss_kb()
  -- live tensor bytes are bounded by the GC threshold (32 MiB of garbage
  -- at most) rather than growing with the step count
  check.truthy(peak_live < live0 + 48 * 2 ^ 20,
    string.format("tensor memory grew from %d to %d bytes", live0, peak_live))
  if rss0 then
    check.truthy(rss1 - rss0 < 40 * 1024,
      string.format("RSS grew by %d KiB over 17000 steps", rss1 - rss0))
  end
end)

test("repeated ops reuse cached buffers (no malloc after warm-up)", function()
  local a, b = tensor.randn(64, 64), tensor.randn(64, 64)
  -- warm-up spans a few automatic collections (32 KiB a step, 32 MiB each)
  for _ = 1, 4000 do local _ = a:matmul(b) + a end
  local m0 = tensor.memory().mallocs
  for _ = 1, 2000 do local _ = a:matmul(b) + a end
  check.eq(tensor.memory().mallocs, m0, "cache misses after warm-up")
end)

test("big short-lived tensors trigger collection (GC sees tensor bytes)", function()
  -- 300 x 4 MiB with almost no Lua allocation in between: Lua's own heap
  -- barely grows, so only the tensor-byte accounting can keep this bounded
  collectgarbage()
  local base = tensor.memory().live_bytes
  local peak = 0
  for _ = 1, 300 do
    local t = tensor.zeros(1024, 1024)
    peak = math.max(peak, tensor.memory().live_bytes)
    t = nil
  end
  check.truthy(peak - base < 200 * 2 ^ 20, string.format("live tensor bytes reached %d MiB", (peak - base) // 2 ^ 20))
end)

test("the executable's small-block allocator: blocks growing and shrinking across its 256-byte limit keep their contents", function()
  local t = {}
  for i = 1, 3000 do t[i] = string.rep("x", i % 300) .. i end -- strings below and above the limit
  for i = 1, 3000 do check.eq(t[i], string.rep("x", i % 300) .. i) end
  local grow = {} -- a table's array part reallocated from small to large
  for i = 1, 500 do grow[i] = i * 3 end
  for i = 500, 11, -1 do grow[i] = nil end
  collectgarbage()
  for i = 1, 10 do check.eq(grow[i], i * 3) end
  check.eq(#grow, 10)
  local h = {} -- a hash part that grows, then is emptied and refilled
  for i = 1, 200 do h["k" .. i] = i end
  for i = 1, 200 do h["k" .. i] = nil end
  collectgarbage()
  for i = 1, 50 do h["j" .. i] = -i end
  for i = 1, 50 do check.eq(h["j" .. i], -i) end
end)
