-- Run by test_dist.lua under `mpirun -np N` (and alone): every collective
-- of ganlua.dist on known values, then a data-parallel training of a small
-- MLP. Rank 0 prints one JSON line with what each rank saw; the test
-- checks it. arg[1]: the global batch size of the training.
local rank, size = dist.rank(), dist.size()
local out = { rank = rank, size = size, launched = dist.launched() }

-- allreduce: sum, mean, max, min of rank + 1; a list goes as one message
local a = tensor.full({ 3 }, rank + 1)
dist.allreduce(a)
out.sum = a:totable()
local m1, m2 = tensor.full({ 2, 2 }, rank + 1), tensor.full({ 5 }, 10 * (rank + 1))
dist.allreduce({ m1, m2 }, "mean")
out.mean = { m1:sum():item() / 4, m2:sum():item() / 5 }
out.max = dist.allreduce(tensor.full({ 1 }, rank + 1), "max"):item()
out.min = dist.allreduce(tensor.full({ 1 }, rank + 1), "min"):item()
-- broadcast from the last rank
local b = tensor.full({ 4 }, rank * 7)
dist.broadcast(b, size - 1)
out.bcast = b:sum():item()
out.value = dist.broadcast_value({ from = rank, list = { 1, 2 } }, size - 1)
-- the counter: each number to exactly one rank
local c = dist.counter()
local took = {}
while true do
  local k = c.next()
  if k > 20 then break end
  took[#took + 1] = k
end
c.free()
out.took = took

-- data parallel: the same seed everywhere, the data set's order sharded,
-- the mean gradient; after 20 steps every rank must hold the parameters
-- one process with the whole global batch reaches
local global = tonumber(arg[1] or "16")
tensor.manual_seed(7)
local X = tensor.randn(96, 5)
local Y = (X:narrow(2, 1, 1) * 2 - X:narrow(2, 2, 1)):tanh()
local ds = data.dataset(X, Y)
-- 20 data-parallel Adam steps of net on the sharded batches; its optimizer
local function train(net)
  local opt = optim.Adam(net:parameters(), { lr = 1e-2 })
  local steps = 0
  while steps < 20 do
    for x, y in ds:batches(global // size, { shuffle = true, shard = true }) do
      opt:zero_grad()
      local loss = ((net(x) - y) ^ 2):mean()
      loss:backward()
      dist.average_gradients(net)
      opt:step()
      steps = steps + 1
      if steps == 20 then break end
    end
  end
  out.steps = steps
  return opt
end
-- every value of a list of tensors, in order
local function flatten(list)
  local f = {}
  for _, t in ipairs(list) do for _, v in ipairs(t:reshape(-1):totable()) do f[#f + 1] = v end end
  return f
end

local net = nn.Sequential { nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1) }
dist.broadcast_parameters(net)
local opt = train(net)
out.params = flatten(net:parameters())
local moments = {}
for i = 1, #net:parameters() do moments[#moments + 1] = opt.state[i].exp_avg; moments[#moments + 1] = opt.state[i].exp_avg_sq end
out.adam_state = flatten(moments)

-- the same with SyncBatchNorm between the layers (one rank: BatchNorm),
-- then a gradient penalty's parameter gradients (double backward through
-- the statistics' sum over ranks). No bias before the normalisation: its
-- gradient is zero up to rounding, which Adam would turn into full steps
-- of either sign.
tensor.manual_seed(8)
local net2 = nn.Sequential { nn.Linear(5, 16, { bias = false }), nn.SyncBatchNorm(16), nn.Tanh(), nn.Linear(16, 1) }
local opt2 = train(net2)
out.sync_params = flatten(net2:parameters())
out.sync_running = flatten { net2[2].running_mean, net2[2].running_var }
local xg = X:narrow(1, rank * (global // size) + 1, global // size):clone():requires_grad()
local g = autograd.grad(net2(xg):sum(), xg, { create_graph = true })
local penalty = ((g:norm(2, 2) - 1) ^ 2):mean()
opt2:zero_grad()
penalty:backward()
dist.average_gradients(net2)
local pg = {}
for _, p in ipairs(net2:parameters()) do pg[#pg + 1] = p.grad end
out.penalty_grads = flatten(pg)

local all = dist.gather(out)
if rank == 0 then print(json.encode(all)) end
