#!/usr/bin/env ganlua
-- mnist_classifier.lua — the small CNN behind ganlua's MNIST scores
-- (metrics.inception_score, metrics.fid): trains metrics.MnistClassifier
-- with Adam and cross-entropy, reports test accuracy, saves a checkpoint,
-- and scores real test images (the Inception Score of real MNIST is the
-- ceiling a generator can reach, near 10). --data fashion trains the same
-- network on Fashion-MNIST, for the scores of scripts/dcgan.lua there.
--
--   ganlua scripts/mnist_classifier.lua --epochs 3 --out runs/classifier
--   ganlua scripts/mnist_classifier.lua --data fashion --out runs/fashion_classifier
local opt = cli.options {
  epochs = { 3, "passes over the training set", positive = true },
  batch = { 128, "batch size", positive = true },
  lr = { 1e-3, "Adam learning rate", positive = true },
  max_iters = { 0, "stop after this many iterations (0: all epochs)", min = 0 },
  data = { "mnist", "the images: MNIST's digits or Fashion-MNIST's clothes", choices = { "mnist", "fashion" } },
  data_dir = { nil, "directory of the IDX files (default: the loader's)", type = "string" },
}
tensor.manual_seed(opt.seed)
local run = log.run(opt)
local dir = opt.data_dir
local load = opt.data == "fashion" and data.fashion_mnist or data.mnist
local train, test = load { split = "train", dir = dir }, load { split = "test", dir = dir }

local net = metrics.MnistClassifier()
local adam = optim.Adam(net:parameters(), { lr = opt.lr })
local total = opt.epochs * train:num_batches(opt.batch)
total = run:set_total(total, opt.max_iters)
local it = 0
for epoch = 1, opt.epochs do
  net:train()
  for x, y in train:batches(opt.batch, { shuffle = true }) do
    if it >= total then break end
    it = it + 1
    adam:zero_grad()
    local loss = losses.cross_entropy(net(x), y)
    loss:backward()
    adam:step()
    run:scalar("loss", loss:item())
    run:step(it, { epoch = epoch })
  end
  net:eval()
  local acc = metrics.accuracy(net, test.x, test.labels)
  run:scalar("test_accuracy", acc)
  run:step(it, { epoch = epoch })
  run:print(string.format("epoch %d: test accuracy %.2f%%", epoch, acc))
end

net:eval()
local acc = metrics.accuracy(net, test.x, test.labels)
local is, is_std = metrics.inception_score(test.x, net)
local fid_real = metrics.fid(test.x:narrow(1, 1, 5000), test.x:narrow(1, 5001, 5000), net)
assert(ckpt.save(opt.out .. "/classifier.safetensors", { model = net, accuracy = acc }))
log.write_json(opt.out .. "/summary.json", { test_accuracy = acc, inception_score_real = is,
  inception_score_real_std = is_std, fid_test_halves = fid_real, iterations = it })
run:print(string.format("test accuracy %.2f%%; real test images: IS %.3f +- %.3f, FID between halves %.3f",
  acc, is, is_std, fid_real))
run:print("saved " .. opt.out .. "/classifier.safetensors")
run:close()
