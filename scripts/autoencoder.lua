#!/usr/bin/env ganlua
-- autoencoder.lua — the one-hidden-layer autoencoder on MNIST:
-- 784 -> hidden (ReLU) -> 784 (identity), mean squared error, Adam.
-- Writes reconstructions.png (test images in odd rows, their
-- reconstructions below them) and logs the test MSE after each epoch.
--
--   ganlua scripts/autoencoder.lua --hidden 32 --epochs 5
local opt = cli.options {
  hidden = { 100, "width of the code layer", positive = true },
  epochs = { 5, "passes over the training set", positive = true },
  batch = { 128, "batch size", positive = true },
  lr = { 1e-3, "Adam learning rate", positive = true },
  max_iters = { 0, "stop after this many iterations (0: all epochs)", min = 0 },
  data_dir = data.dir_option("MNIST"),
}
tensor.manual_seed(opt.seed)
local run = log.run(opt)
local dir = opt.data_dir
local train = data.mnist { split = "train", dir = dir, range = "unit" }
local test = data.mnist { split = "test", dir = dir, range = "unit" }

local ae = nn.Sequential { nn.Flatten(), nn.Linear(784, opt.hidden), nn.ReLU(), nn.Linear(opt.hidden, 784) }
local adam = optim.Adam(ae:parameters(), { lr = opt.lr })

local function test_mse()
  local total, n = 0, 0
  autograd.no_grad(function()
    for x in test:batches(1000) do
      total = total + losses.mse(ae(x), x:reshape(x:size(1), 784), { reduction = "sum" }):item()
      n = n + x:numel()
    end
  end)
  return total / n
end

local it, total = 0, opt.epochs * train:num_batches(opt.batch)
total = run:set_total(total, opt.max_iters)
local mses = {}
for epoch = 1, opt.epochs do
  for x in train:batches(opt.batch, { shuffle = true }) do
    if it >= total then break end
    it = it + 1
    adam:zero_grad()
    local loss = losses.mse(ae(x), x:reshape(x:size(1), 784))
    loss:backward()
    adam:step()
    run:scalar("train_mse", loss:item())
    run:step(it, { epoch = epoch })
  end
  mses[epoch] = test_mse()
  run:scalar("test_mse", mses[epoch])
  run:step(it, { epoch = epoch })
  run:print(string.format("epoch %d: test MSE %.5f", epoch, mses[epoch]))
end

-- 4 rows of 8 test images, each followed by a row of reconstructions
local x = test.x:narrow(1, 1, 32)
local r = autograd.no_grad(function() return ae(x):reshape(32, 1, 28, 28):clamp(0, 1) end)
local rows = {}
for k = 0, 3 do
  rows[#rows + 1] = x:narrow(1, k * 8 + 1, 8)
  rows[#rows + 1] = r:narrow(1, k * 8 + 1, 8)
end
assert(image.save_grid(tensor.cat(rows, 1), opt.out .. "/reconstructions.png", { nrow = 8 }))
local epochs = {}
for e = 1, #mses do epochs[e] = e end
plot.lines({ { name = "test MSE", x = epochs, y = mses } }, opt.out .. "/test_mse.png",
  { title = string.format("autoencoder, %d hidden units", opt.hidden), xlabel = "epoch", ylabel = "MSE" })
log.write_json(opt.out .. "/summary.json", { hidden = opt.hidden, test_mse = mses[#mses], test_mse_per_epoch = mses })
run:print(string.format("final test MSE %.5f; reconstructions.png in %s", mses[#mses], opt.out))
run:close()
