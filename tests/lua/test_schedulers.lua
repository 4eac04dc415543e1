-- Learning-rate schedulers, the EMA of weights and their checkpoints.
-- The schedules are PyTorch 1.13's, printed by its torch.optim.lr_scheduler
-- over ten epochs (opt.step(); sched.step(); sched.get_last_lr()) from lr 0.1.
local torch_lrs = {
  step = { 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125 },
  exp = { 0.09, 0.081, 0.0729, 0.06561, 0.059049, 0.0531441, 0.04782969, 0.043046721, 0.0387420489, 0.034867844 },
  cos = { 0.0868198052, 0.055, 0.0231801948, 0.01, 0.0231801948, 0.055, 0.0868198052, 0.1, 0.0868198052, 0.055 },
  lambda = { 0.05, 0.0333333333, 0.025, 0.02, 0.0166666667, 0.0142857143, 0.0125, 0.0111111111, 0.01, 0.00909090909 },
}
local S = optim.lr_scheduler
local function opt() return optim.SGD({ tensor.zeros(1):requires_grad() }, { lr = 0.1 }) end
local makers = {
  step = function(o) return S.StepLR(o, 3, 0.5) end,
  exp = function(o) return S.ExponentialLR(o, { gamma = 0.9 }) end,
  cos = function(o) return S.CosineAnnealingLR(o, 4, { eta_min = 0.01 }) end,
  lambda = function(o) return S.LambdaLR(o, function(e) return 1 / (e + 1) end) end,
}
for name, make in pairs(makers) do
  test("lr_scheduler " .. name .. ": PyTorch's learning rates over ten epochs", function()
    local o = opt()
    local s = make(o)
    check.near(o.lr, 0.1) -- epoch 0 keeps the initial lr (lambda(0) = 1)
    for e = 1, 10 do
      s:step()
      check.near(s:get_last_lr()[1], torch_lrs[name][e], 1e-7, name .. " epoch " .. e)
      check.near(o.lr, torch_lrs[name][e], 1e-7)
    end
  end)
end

test("a scheduler's state goes through ckpt.save and ckpt.load", function()
  local dir = check.tmpdir()
  local o = opt()
  local s = S.StepLR(o, 3, 0.5)
  for _ = 1, 4 do s:step() end
  ckpt.save(dir .. "/c.safetensors", { opt = o, sched = s })
  local o2 = opt()
  local s2 = S.StepLR(o2, 3, 0.5)
  ckpt.load(dir .. "/c.safetensors", { opt = o2, sched = s2 })
  check.eq(s2.last_epoch, 4)
  check.near(o2.lr, 0.05)
  s2:step(); s2:step()
  check.near(o2.lr, torch_lrs.step[6])
  check.raises(function() ckpt.load(dir .. "/c.safetensors", { other = S.StepLR(opt(), 2) }) end, "holds no state 'other'")
  check.eq(tostring(s2), "StepLR(last_epoch=6, lr=0.025)")
end)

test("lr_scheduler arguments are checked", function()
  check.raises(function() S.StepLR({}, 2) end, "optimizer")
  check.raises(function() S.StepLR(opt(), 0) end, "step_size")
  check.raises(function() S.StepLR(opt(), 2, { gama = 0.5 }) end, "unknown option 'gama' (did you mean 'gamma'?)")
  check.raises(function() S.StepLR(opt(), 2, 0.5, 3) end, "takes at most 2 arguments")
  check.raises(function() S.StepLR(opt()) end, "step_size is required")
  check.raises(function() S.LambdaLR(opt(), function() return "x" end) end, "returned string, expected a number")
  check.raises(function() S.StepLR(opt(), 2):load_state_dict({ last_epoch = 1.5 }) end, "not a scheduler state")
end)

test("EMA: decay * average + (1 - decay) * model, buffers copied, saved as a module", function()
  local G = nn.Sequential { nn.Linear(2, 3), nn.BatchNorm1d(3) }
  local ema = optim.EMA(G, { decay = 0.9 })
  local w0 = G[1].weight:clone()
  check.truthy(not ema.module[1].weight:is_requires_grad(), "the average is not trained")
  autograd.no_grad(function() G[1].weight:add_(1) end)
  G(tensor.randn(8, 2)) -- moves BatchNorm's running statistics
  ema:update()
  check.allclose(ema.module[1].weight, w0 + 0.1, 1e-6)
  check.allclose(ema.module[2].running_mean, G[2].running_mean)
  check.eq(ema.n_averaged:item(), 1)
  local dir = check.tmpdir()
  ckpt.save(dir .. "/e.safetensors", { ema = ema })
  local names = ckpt.read(dir .. "/e.safetensors").names
  check.eq(table.concat(names, ","):find("ema.module.0.weight", 1, true) ~= nil, true)
  local ema2 = optim.EMA(G)
  ckpt.load(dir .. "/e.safetensors", { ema = ema2 })
  check.allclose(ema2.module[1].weight, ema.module[1].weight)
  check.shape(ema2(tensor.randn(4, 2)), { 4, 3 })
  check.raises(function() optim.EMA(G, { decay = 2 }) end, "decay")
  check.raises(function() ema:update(nn.Sequential { nn.Linear(2, 3) }) end, "the model has 2 parameters, the average 4")
end)
