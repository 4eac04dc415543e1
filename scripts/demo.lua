#!/usr/bin/env ganlua
-- demo.lua — what `make demo` runs until the toy mode-collapse experiment
-- lands: a two-layer network fitted to sin(3x) with plain SGD, and a
-- WGAN-GP style gradient penalty, which needs the gradient of a gradient.
tensor.manual_seed(0)

-- Data: 256 points of y = sin(3x) on [-1, 1], built from Lua tables.
local xs, ys = {}, {}
for i = 1, 256 do
  local x = -1 + 2 * (i - 1) / 255
  xs[i], ys[i] = { x }, { math.sin(3 * x) }
end
local X, Y = tensor.from(xs), tensor.from(ys)

local W1 = (tensor.randn(1, 64) * 1.0):requires_grad()
local b1 = tensor.zeros(64):requires_grad()
local W2 = (tensor.randn(64, 1) * 0.1):requires_grad()
local b2 = tensor.zeros(1):requires_grad()
local params = { W1, b1, W2, b2 }

local function net(x) return (x:matmul(W1) + b1):tanh():matmul(W2) + b2 end

for step = 1, 2000 do
  local loss = ((net(X) - Y) ^ 2):mean()
  loss:backward()
  autograd.no_grad(function()
    for _, p in ipairs(params) do p:sub_(p.grad, 0.1); p.grad = nil end
  end)
  if step % 400 == 0 then print(string.format("step %4d  mse %.5f", step, loss:item())) end
end

-- Gradient penalty of the fitted net at random points: ||d net / dx|| - 1,
-- and its gradient with respect to the weights (second-order autograd).
local xhat = tensor.rand(16, 1):mul(2):sub(1):requires_grad()
local g = autograd.grad(net(xhat):sum(), xhat, { create_graph = true })
local gp = ((g:norm(2, -1) - 1) ^ 2):mean()
gp:backward()
print(string.format("gradient penalty %.4f, its gradient w.r.t. W1 has norm %.4f", gp:item(), W1.grad:norm():item()))
