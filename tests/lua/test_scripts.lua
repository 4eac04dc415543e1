-- End-to-end runs of the real scripts, with thresholds on what they
-- produce. They need MNIST (`make data`, which `make test` runs) for the
-- MNIST scripts; the toy ones need nothing.

local function have_mnist()
  local f = io.open("data/mnist/train-images-idx3-ubyte", "rb")
  if f then f:close() return true end
  return false
end

local function have_fashion()
  local f = io.open("data/fashion-mnist/train-images-idx3-ubyte", "rb")
  if f then f:close() return true end
  return false
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(sys.mkdir(d))
  return d
end

local ganlua = check.run -- a script's output and exit status

local function metrics_lines(path)
  local out = {}
  for l in io.lines(path) do out[#out + 1] = json.decode(l) end
  return out
end

-- a small MNIST-like directory: the first n training images of the real set
local small_mnist = check.small_mnist

test("mnist_gan: 300 iterations give a non-blank grid and finite losses", function()
  if not have_mnist() then print("  (skipped: run make data)") return end
  local d = tmpdir()
  local out, rc = ganlua(string.format("--threads 2 scripts/mnist_gan.lua --max-iters 300 --sample-interval 150 --out %s/run", d))
  check.eq(rc, 0, out)
  local grid = assert(image.load(d .. "/run/samples_000300.png"))
  check.shape(grid, { 3, 152, 152 })
  local var = grid:var():item()
  check.truthy(var > 0.01, "sample grid is nearly blank (pixel variance " .. var .. ")")
  for _, m in ipairs(metrics_lines(d .. "/run/metrics.jsonl")) do
    check.truthy(m.d_loss and m.d_loss == m.d_loss and math.abs(m.d_loss) < 1e6, "d_loss not finite at step " .. m.step)
    check.truthy(m.g_loss and m.g_loss == m.g_loss and math.abs(m.g_loss) < 1e6, "g_loss not finite at step " .. m.step)
  end
  for _, f in ipairs { "losses.png", "samples.gif", "config.json", "mnist_gan.lua", "ckpt.safetensors" } do -- a --max-iters run saves too
    check.truthy(io.open(d .. "/run/" .. f), f .. " missing")
  end
  os.execute("rm -rf '" .. d .. "'")
end)

test("mnist_gan: 2 epochs straight == 1 epoch, save, resume 1 more (bit-identical)", function()
  if not have_mnist() then print("  (skipped: run make data)") return end
  local data_dir = small_mnist(640) -- 10 batches an epoch
  local d = tmpdir()
  local common = string.format("--threads 1 scripts/mnist_gan.lua --data-dir %s --sample-interval 1000 --seed 3", data_dir)
  local _, rc = ganlua(string.format("%s --epochs 2 --out %s/straight", common, d))
  check.eq(rc, 0)
  _, rc = ganlua(string.format("%s --epochs 1 --out %s/first", common, d))
  check.eq(rc, 0)
  local out
  out, rc = ganlua(string.format("%s --epochs 2 --resume %s/first/ckpt.safetensors --out %s/resumed", common, d, d))
  check.eq(rc, 0, out)
  check.truthy(out:find("resumed from", 1, true), out)
  local a = assert(ckpt.read(d .. "/straight/ckpt.safetensors"))
  local b = assert(ckpt.read(d .. "/resumed/ckpt.safetensors"))
  check.eq(#a.names, #b.names)
  for _, name in ipairs(a.names) do
    check.eq((a.tensors[name] - b.tensors[name]):abs():max():item(), 0, name)
  end
  os.execute("rm -rf '" .. d .. "' '" .. data_dir .. "'")
end)

test("mnist_classifier: a short run passes 95% test accuracy and real images score high; gloss_study scores on it", function()
  if not have_mnist() then print("  (skipped: run make data)") return end
  local d = tmpdir()
  local out, rc = ganlua(string.format("--threads 2 scripts/mnist_classifier.lua --epochs 1 --max-iters 250 --out %s/c", d))
  check.eq(rc, 0, out)
  local s = json.decode(assert(io.open(d .. "/c/summary.json")):read("a"))
  check.truthy(s.test_accuracy > 95, "test accuracy " .. s.test_accuracy)
  check.truthy(s.inception_score_real > 7, "IS of real images " .. s.inception_score_real)
  local clf = metrics.load_mnist_classifier(d .. "/c/classifier.safetensors")
  local test_set = data.mnist { split = "test" }
  check.near(metrics.accuracy(clf, test_set.x:narrow(1, 1, 2000), test_set.labels:narrow(1, 1, 2000)) > 90 and 1 or 0, 1)
  -- the generator-loss study on that classifier: three runs through sweep.run, two at a time
  out, rc = ganlua(string.format("--threads 1 scripts/gloss_study.lua --script mnist_gan --data mnist --seeds 0 "
    .. "--max-iters 40 --sample-interval 20 --jobs 2 --classifier %s/c/classifier.safetensors --out %s/gloss", d, d))
  check.eq(rc, 0, out)
  local md = assert(io.open(d .. "/gloss/results.md")):read("a")
  for _, g in ipairs { "saturating", "nonsaturating", "hinge" } do
    check.truthy(md:find("| " .. g .. " | %d"), "a score for " .. g .. ": " .. md)
  end
  check.truthy(io.open(d .. "/gloss/inception_score.png"), "the figure")
  os.execute("rm -rf '" .. d .. "'")
end)

test("autoencoder: test MSE falls below 0.03 in 300 iterations", function()
  if not have_mnist() then print("  (skipped: run make data)") return end
  local d = tmpdir()
  local out, rc = ganlua(string.format("--threads 2 scripts/autoencoder.lua --epochs 1 --max-iters 300 --out %s/ae", d))
  check.eq(rc, 0, out)
  local s = json.decode(assert(io.open(d .. "/ae/summary.json")):read("a"))
  check.truthy(s.test_mse < 0.03, "test MSE " .. s.test_mse)
  check.truthy(image.load(d .. "/ae/reconstructions.png"))
  os.execute("rm -rf '" .. d .. "'")
end)

test("gan_1d: G's samples move towards the data and the frames become a GIF", function()
  local d = tmpdir()
  local out, rc = ganlua(string.format("--threads 1 scripts/gan_1d.lua --steps 600 --frames 3 --out %s/g", d))
  check.eq(rc, 0, out)
  local mean = tonumber(out:match("G%(z%): mean ([-%d.]+)"))
  check.truthy(mean and math.abs(mean - 1.0) < 0.5, "mean of G(z) " .. tostring(mean))
  local f = assert(io.open(d .. "/g/gan_1d.gif", "rb"))
  check.eq(f:read(6), "GIF89a")
  f:close()
  os.execute("rm -rf '" .. d .. "'")
end)

test("infogan: Q learns to recover the categorical code (L_I falls from log 10), pictures are written", function()
  if not have_mnist() then print("  (skipped: run make data)") return end
  local d = tmpdir()
  local out, rc = ganlua(string.format(
    "--threads 2 scripts/infogan.lua --max-iters 150 --batch 32 --sample-interval 75 --out %s/run", d))
  check.eq(rc, 0, out)
  local lines = metrics_lines(d .. "/run/metrics.jsonl")
  check.eq(#lines, 150)
  local function mean(from, to, key)
    local s = 0
    for i = from, to do s = s + lines[i][key] end
    return s / (to - from + 1)
  end
  -- chance is log 10 = 2.30 nats; Q recovers c1 from G's images only if
  -- L_I's gradient reaches both Q (through D's step) and G (through G's)
  local first, last = mean(1, 5, "info_cat"), mean(131, 150, "info_cat")
  check.truthy(first > 1.8, "L_I(c1) starts at " .. first)
  check.truthy(last < 0.5, "L_I(c1) ends at " .. last)
  for _, m in ipairs(lines) do
    check.truthy(m.d_loss == m.d_loss and m.g_loss == m.g_loss and m.info_cont == m.info_cont, "NaN at step " .. m.step)
  end
  -- Q's c1 as a digit classifier of the real test images, under the best
  -- one-to-one map: chance is ~11 % (a random labelling's best map);
  -- measured 21.9 % at 75 and 24.2 % at 150 iterations (seed 0)
  check.truthy(lines[150].q_accuracy > 15, "q_accuracy at 150: " .. tostring(lines[150].q_accuracy))
  for _, f in ipairs { "codes_000075.png", "codes_000150.png", "c2.png", "c3.png" } do
    local g = assert(image.load(d .. "/run/" .. f))
    check.shape(g, { 3, 302, 302 }) -- ten by ten 28 x 28 images, 2-pixel padding
    check.truthy(g:var():item() > 0.01, f .. " is nearly blank")
  end
  check.truthy(io.open(d .. "/run/losses.png"), "losses.png missing")
  os.execute("rm -rf '" .. d .. "'")
end)

test("wgan --variant gp: the penalty holds the critic's gradient norm steady; without it the norm runs away", function()
  if not have_mnist() then print("  (skipped: run make data)") return end
  local d = tmpdir()
  local function run(lambda, steps)
    local out, rc = ganlua(string.format("--threads 2 scripts/wgan.lua --variant gp --max-iters %d --batch 32 " ..
      "--sample-interval %d --eval-interval 10 --lambda %g --out %s/l%g", steps, steps, lambda, d, lambda))
    check.eq(rc, 0, out)
    local lines = metrics_lines(string.format("%s/l%g/metrics.jsonl", d, lambda))
    check.eq(#lines, steps)
    for _, m in ipairs(lines) do
      check.truthy(m.w_estimate == m.w_estimate and m.grad_norm == m.grad_norm, "NaN at step " .. m.step)
    end
    return lines
  end
  -- with lambda = 10 the norm rises from ~0.02 and levels off (measured
  -- 1.89 at step 20, 1.92 at 30); the critic's W estimate rises while the
  -- untrained G's samples are far from the data
  local gp = run(10, 30)
  check.truthy(gp[1].grad_norm < 0.5, "initial norm " .. gp[1].grad_norm)
  check.truthy(gp[30].grad_norm > 1 and gp[30].grad_norm < 2.5, "norm at step 30: " .. gp[30].grad_norm)
  check.truthy(math.abs(gp[30].grad_norm - gp[20].grad_norm) < 0.3, "norm still moving: " .. gp[20].grad_norm .. " -> "
    .. gp[30].grad_norm)
  check.truthy(gp[30].w_estimate > 10 * gp[1].w_estimate, "W estimate " .. gp[1].w_estimate .. " -> " .. gp[30].w_estimate)
  -- the held-out estimate beside the training one, every 10 steps
  for _, k in ipairs { 10, 20, 30 } do
    local m = gp[k]
    check.truthy(type(m.w_train) == "number" and type(m.w_heldout) == "number", "estimates at step " .. k)
  end
  check.eq(gp[5].w_heldout, nil)
  -- lambda = 0 is a plain critic: the norm passes 10 within 20 steps (measured 26)
  local free = run(0, 20)
  check.truthy(free[20].grad_norm > 10, "norm without the penalty at step 20: " .. free[20].grad_norm)
  for _, f in ipairs { "l10/samples_000030.png", "l10/curves.png", "l10/wasserstein.png", "l10/samples.gif" } do
    check.truthy(io.open(d .. "/" .. f), f .. " missing")
  end
  os.execute("rm -rf '" .. d .. "'")
end)

test("wgan --variant clip on a generated colour folder: the authors' 100-step warm-up, clamped critic, held-out estimate", function()
  local d = tmpdir()
  sys.mkdir(d .. "/folder")
  for i = 1, 60 do image.save(tensor.rand(3, 36, 36), string.format("%s/folder/%02d.png", d, i)) end
  local out, rc = ganlua(string.format("--threads 2 scripts/wgan.lua --variant clip --data folder:%s/folder --batch 8 " ..
    "--holdout 0.2 --max-iters 2 --eval-interval 1 --sample-interval 2 --epochs 100 --out %s/run", d, d))
  check.eq(rc, 0, out)
  -- the first 25 generator steps take 100 critic steps each
  check.truthy(out:find("2 generator steps (200 critic steps)", 1, true), out)
  local lines = metrics_lines(d .. "/run/metrics.jsonl")
  check.eq(#lines, 2)
  check.truthy(type(lines[2].w_heldout) == "number" and lines[2].w_heldout == lines[2].w_heldout, "held-out estimate")
  check.eq(lines[1].grad_norm, nil)
  -- every critic parameter, BatchNorm's included, clamped to 0.01 before
  -- each critic step: the saved critic is one RMSprop step (lr 5e-5, at most
  -- ~10 lr on an early step) past the clamp; unclipped, the N(0, 0.02)
  -- conv weights reach 0.08
  local saved = ckpt.read(d .. "/run/ckpt.safetensors")
  local n = 0
  for k, t in pairs(saved.tensors) do
    if k:find("^D%.") and (k:find("%.weight$") or k:find("%.bias$")) then
      n = n + 1
      check.truthy(t:abs():max():item() <= 0.011, k .. " exceeds the clip: " .. t:abs():max():item())
    end
  end
  check.truthy(n > 5, "critic tensors in the checkpoint: " .. n)
  local g = assert(image.load(d .. "/run/samples_000002.png"))
  check.shape(g, { 3, 274, 274 })
  os.execute("rm -rf '" .. d .. "'")
end)

test("dcgan: on Fashion-MNIST, D separates real from fake and the samples move; a colour folder at 64 x 64", function()
  if not have_fashion() then print("  (skipped: run make data)") return end
  local d = tmpdir()
  local out, rc = ganlua(string.format("--threads 2 scripts/dcgan.lua --data fashion --max-iters 60 --batch 64 " ..
    "--sample-interval 30 --out %s/run", d))
  check.eq(rc, 0, out)
  local lines = metrics_lines(d .. "/run/metrics.jsonl")
  check.eq(#lines, 60)
  for _, m in ipairs(lines) do
    check.truthy(m.d_loss == m.d_loss and m.g_loss == m.g_loss, "NaN at step " .. m.step)
  end
  local function mean(from, to, key)
    local s = 0
    for i = from, to do s = s + lines[i][key] end
    return s / (to - from + 1)
  end
  -- D pulls real and fake apart: D(x) - D(G(z)) over the first 3 iterations
  -- 0.27 / 0.32 / 0.20 and over the last 10 0.92 / 0.67 / 0.83 (seeds 0-2)
  local gap0, gap1 = mean(1, 3, "d_x") - mean(1, 3, "d_g_z"), mean(51, 60, "d_x") - mean(51, 60, "d_g_z")
  check.truthy(gap0 < 0.5, "D(x) - D(G(z)) at the start: " .. gap0)
  check.truthy(gap1 > 0.45 and gap1 > gap0 + 0.15, "D(x) - D(G(z)) from " .. gap0 .. " to " .. gap1)
  -- the fixed-z grid changes between iterations 30 and 60, and is not blank
  local a = assert(image.load(d .. "/run/samples_000030.png"))
  local b = assert(image.load(d .. "/run/samples_000060.png"))
  check.shape(b, { 3, 274, 274 }) -- 8 x 8 images of 32 x 32, 2-pixel padding
  local moved = (a - b):abs():mean():item() -- measured 0.15 / 0.12 / 0.12
  check.truthy(moved > 0.05, "grids at 30 and 60 differ by " .. moved)
  check.truthy(b:var():item() > 0.01, "grid nearly blank")
  for _, f in ipairs { "losses.png", "samples.gif", "ckpt.safetensors", "ckpt_00000030.safetensors", "ckpt_00000060.safetensors",
                       "checkpoints.json" } do
    check.truthy(io.open(d .. "/run/" .. f), f)
  end
  -- a generated colour folder at 64 x 64: RGB samples
  sys.mkdir(d .. "/folder")
  for c = 1, 2 do
    sys.mkdir(d .. "/folder/c" .. c)
    for i = 1, 40 do image.save(tensor.rand(3, 40, 48), string.format("%s/folder/c%d/%02d.png", d, c, i)) end
  end
  out, rc = ganlua(string.format("--threads 2 scripts/dcgan.lua --data folder:%s/folder --size 64 --batch 16 " ..
    "--max-iters 3 --sample-interval 3 --out %s/rgb", d, d))
  check.eq(rc, 0, out)
  local g = assert(image.load(d .. "/rgb/samples_000003.png"))
  check.shape(g, { 3, 530, 530 })
  out, rc = ganlua(string.format("scripts/dcgan.lua --data folder:%s/folder --classifier x --out %s/bad", d, d))
  check.eq(rc, 1, out)
  check.truthy(out:find("--classifier scores 28 x 28 grey images", 1, true), out)
  os.execute("rm -rf '" .. d .. "'")
end)

-- PyTorch's DCGAN tutorial ported as a user would (tests/ports/dcgan_tutorial.lua:
-- positional arguments, weights_init via apply, nn.BCELoss, make_grid),
-- run small on a generated image folder: the networks are the tutorial's,
-- D and G train, and its picture is written.
test("the ported PyTorch DCGAN tutorial runs unchanged but for syntax", function()
  local d = tmpdir()
  for c = 1, 2 do
    sys.mkdir(d .. "/f/c" .. c)
    for i = 1, 24 do image.save(tensor.rand(3, 40, 48), string.format("%s/f/c%d/%02d.png", d, c, i)) end
  end
  local out, rc = ganlua(string.format("--threads 2 tests/ports/dcgan_tutorial.lua --dataroot %s/f --batch-size 16 --ngf 8 " ..
    "--ndf 8 --num-epochs 2 --out %s/run", d, d))
  check.eq(rc, 0, out)
  -- the tutorial's positional arguments reached the layers
  check.truthy(out:find("ConvTranspose2d(100, 64, kernel_size=(4, 4), stride=(1, 1), bias=False)", 1, true), out)
  check.truthy(out:find("Conv2d(3, 8, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)", 1, true), out)
  check.truthy(out:find("LeakyReLU(negative_slope=0.2)", 1, true), out)
  local dl, gl = out:match("6 iterations; last Loss_D ([%d.]+), Loss_G ([%d.]+)")
  check.truthy(dl and tonumber(dl) > 0 and tonumber(gl) > 0, out)
  local img = assert(image.load(d .. "/run/fake_images.png"))
  check.shape(img, { 3, 530, 530 }) -- torchvision's make_grid of 64 images of 64 x 64, padding 2
  check.truthy(io.open(d .. "/run/losses.png"), "losses.png")
  os.execute("rm -rf '" .. d .. "'")
end)
