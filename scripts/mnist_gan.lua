#!/usr/bin/env ganlua
-- mnist_gan.lua — the classic fully connected GAN on MNIST (as in the
-- PyTorch-GAN collection's gan.py): G: z(100) -> 128 -> 256 -> 512 -> 1024
-- -> 784 (LeakyReLU 0.2, BatchNorm with eps 0.8 after the first layer,
-- Tanh out); D: 784 -> 512 -> 256 -> 1 (LeakyReLU 0.2, Sigmoid out); BCE;
-- Adam 2e-4 (0.5, 0.999); batch 64.
--
--   ganlua scripts/mnist_gan.lua --epochs 1 --gloss nonsaturating
--
-- --gloss picks the generator loss: saturating (min log(1 - D(G(z)))),
-- nonsaturating (max log D(G(z)), the default) or hinge (hinge losses
-- for D and G on D's logits). Every --sample-interval batches a 5 x 5 grid
-- of samples from a fixed z is written; at the end, a loss-curve plot and
-- a GIF of the grids. With --classifier (see mnist_classifier.lua) the
-- classifier-based Inception Score is logged at each grid. A checkpoint
-- (modules, optimizers, RNG, counters) is written every --save-every
-- epochs; --resume continues from one, bit-identical to an unbroken run.
--
-- Under mpirun the ranks train one model together (data parallel): each
-- takes --batch rows of every global batch of --batch x ranks and its part
-- of the global batch's z, the gradients are averaged over the ranks
-- after each backward, so every rank takes the same step; BatchNorm keeps
-- per-rank statistics, as PyTorch's DDP does (--sync-bn: the global
-- batch's, nn.SyncBatchNorm). Rank 0 writes the pictures, metrics and
-- checkpoints.
--
--   mpirun -np 2 ganlua scripts/mnist_gan.lua --batch 32   # as one process at --batch 64
local opt = cli.options {
  epochs = { 1, "passes over the 60000 training images", positive = true },
  batch = { 64, "batch size", positive = true },
  zdim = { 100, "latent size", positive = true },
  lr = { 2e-4, "Adam learning rate (both networks)", positive = true },
  gloss = { "nonsaturating", "generator loss", choices = { "saturating", "nonsaturating", "hinge" } },
  sample_interval = { 200, "batches between sample grids", positive = true },
  max_iters = { 0, "stop after this many iterations (0: run every epoch)", min = 0 },
  classifier = { "", "checkpoint of mnist_classifier.lua for the Inception Score" },
  save_every = { 1, "epochs between checkpoints (out/ckpt.safetensors; 0: none)", min = 0 },
  resume = { "", "checkpoint to continue from (its epoch count carries on)" },
  data_dir = data.dir_option("MNIST"),
  sync_bn = { false, "under mpirun: G's BatchNorm over the global batch (nn.SyncBatchNorm), not per rank" },
}
tensor.manual_seed(opt.seed)
local run = log.run(opt)

local ds = data.mnist { split = "train", dir = opt.data_dir }

local function block(nin, nout, bn)
  local layers = { nn.Linear(nin, nout) }
  if bn then layers[#layers + 1] = nn.BatchNorm1d(nout, { eps = 0.8 }) end
  layers[#layers + 1] = nn.LeakyReLU(0.2)
  return layers
end
local layers = {}
for _, b in ipairs { block(opt.zdim, 128, false), block(128, 256, true), block(256, 512, true), block(512, 1024, true) } do
  for _, l in ipairs(b) do layers[#layers + 1] = l end
end
layers[#layers + 1] = nn.Linear(1024, 784)
layers[#layers + 1] = nn.Tanh()
layers[#layers + 1] = nn.Reshape(1, 28, 28)
local G = nn.Sequential(layers)
if opt.sync_bn then G = nn.SyncBatchNorm.convert_sync_batchnorm(G) end
local D = nn.Sequential { nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                         nn.Linear(256, 1), nn.Sigmoid() }
local D_logits = D:slice(1, -2) -- the same network without its Sigmoid, for the hinge loss
local ranks, rank = dist.size(), dist.rank()
dist.broadcast_parameters(G); dist.broadcast_parameters(D) -- one model on every rank

local optG = optim.Adam(G:parameters(), { lr = opt.lr, betas = { 0.5, 0.999 } })
local optD = optim.Adam(D:parameters(), { lr = opt.lr, betas = { 0.5, 0.999 } })

local classifier = opt.classifier ~= "" and metrics.load_mnist_classifier(opt.classifier) or nil
local z_fixed = tensor.randn(25, opt.zdim)
local anim = image.animation { nrow = 5, normalize = true, range = { -1, 1 } }
local curves = { d = {}, g = {}, it = {} }

-- on every rank (the RNG stays the same on all), written by rank 0
local function sample_grid(it)
  local z_is = classifier and tensor.randn(1000, opt.zdim)
  if not dist.is_main() then return end
  local s = G:infer(z_fixed)
  assert(image.save_grid(s, string.format("%s/samples_%06d.png", opt.out, it), { nrow = 5, normalize = true, range = { -1, 1 } }))
  anim:add(s)
  if classifier then
    local many = G:infer(z_is)
    local is = metrics.inception_score(many, classifier)
    run:scalar("inception_score", is)
  end
end

local it, first_epoch = 0, 1
local total = run:set_total(opt.epochs * ds:num_batches(opt.batch, { shard = true }), opt.max_iters)
if opt.resume ~= "" then
  local saved = ckpt.load(opt.resume, { G = G, D = D, optG = optG, optD = optD })
  it, first_epoch, z_fixed = saved.it, saved.epoch + 1, saved.z_fixed
  run:print(string.format("resumed from %s at epoch %d (iteration %d)", opt.resume, saved.epoch, it))
end
for epoch = first_epoch, opt.epochs do
  if it >= total then break end
  local cut = false
  for real in ds:batches(opt.batch, { shuffle = true, shard = true }) do
    if it >= total then cut = true break end
    it = it + 1
    local n = real:size(1)
    -- discriminator; z: this rank's rows of the global batch's (one
    -- process draws the same numbers for its whole batch)
    local z = tensor.randn(n * ranks, opt.zdim)
    if ranks > 1 then z = z:narrow(1, rank * n + 1, n) end
    local fake = G(z)
    optD:zero_grad()
    local d_loss
    if opt.gloss == "hinge" then
      d_loss = losses.hinge_d(D_logits(real), D_logits(fake:detach()))
    else
      d_loss = (losses.bce(D(real), 1) + losses.bce(D(fake:detach()), 0)) / 2
    end
    d_loss:backward()
    dist.average_gradients(D)
    optD:step()
    -- generator
    optG:zero_grad()
    local g_loss
    if opt.gloss == "hinge" then g_loss = losses.hinge_g(D_logits(fake))
    elseif opt.gloss == "saturating" then g_loss = -losses.bce(D(fake), 0) -- mean log(1 - D(G(z)))
    else g_loss = losses.bce(D(fake), 1) end
    g_loss:backward()
    dist.average_gradients(G)
    optG:step()

    local snapshot = it % opt.sample_interval == 0 or it == total
    if snapshot then sample_grid(it) end
    local dl, gl = d_loss:item(), g_loss:item()
    if ranks > 1 then dl, gl = table.unpack(dist.allreduce(tensor.from { dl, gl }, "mean"):totable()) end
    run:scalar("d_loss", dl)
    run:scalar("g_loss", gl)
    run:step(it, { epoch = epoch })
    if snapshot then run:report() end -- the run's page shows the new grid
    curves.it[#curves.it + 1] = it -- every point; the figure smooths them
    curves.d[#curves.d + 1] = dl
    curves.g[#curves.g + 1] = gl
  end
  -- a run cut short by --max-iters saves too; resuming it starts the next epoch
  if opt.save_every > 0 and (cut or epoch % opt.save_every == 0) and dist.is_main() then
    assert(ckpt.save(opt.out .. "/ckpt.safetensors",
      { G = G, D = D, optG = optG, optD = optD, epoch = epoch, it = it, z_fixed = z_fixed }))
  end
end

if not dist.is_main() then return run:close() end
if #curves.it > 1 then
  plot.lines({ { name = "D loss", x = curves.it, y = curves.d }, { name = "G loss", x = curves.it, y = curves.g } },
    opt.out .. "/losses.png", { title = "MNIST GAN (" .. opt.gloss .. ")", xlabel = "iteration", ylabel = "loss", smooth = 0.9 })
end
if #anim.frames > 0 then assert(anim:save(opt.out .. "/samples.gif", { delay = 0.25 })) end
run:print(string.format("%d iterations; samples, losses.png and samples.gif in %s", it, opt.out))
run:close()
