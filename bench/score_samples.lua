-- bench/score_samples.lua SAMPLES DATA CLASSIFIER — the Inception Score and
-- FID that scripts/dcgan.lua logs, of the images in SAMPLES (a safetensors
-- file with a `samples` tensor, N x 1 x S x S in [-1, 1], as
-- bench/dcgan_torch.py writes), against the first 2000 test images of DATA
-- (mnist or fashion), with CLASSIFIER (scripts/mnist_classifier.lua's).
local path, spec, cls = arg[1], arg[2], arg[3]
if not (path and spec and cls) then
  io.stderr:write("usage: ganlua bench/score_samples.lua SAMPLES DATA CLASSIFIER\n")
  os.exit(2)
end
local c, err = ckpt.read(path)
if not c then error(err, 0) end
local x = c.tensors.samples
if not x or x:dim() ~= 4 or x:size(2) ~= 1 then error(path .. ": expected a `samples` tensor N x 1 x S x S", 0) end
local n, S = x:size(1), x:size(3)
if S ~= 28 then x = image.resize(x:reshape(n, S, S), 28, 28):reshape(n, 1, 28, 28) end
local classifier = metrics.load_mnist_classifier(cls)
local test_x = data.images(spec, { split = "test" }).x:narrow(1, 1, 2000)
print(string.format('{"samples": %d, "inception_score": %.4f, "fid": %.3f}', n, metrics.inception_score(x, classifier),
  metrics.fid(test_x, x, classifier)))
