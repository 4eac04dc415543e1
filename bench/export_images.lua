-- bench/export_images.lua DATA SIZE SEED OUT [HOLDOUT] — the images a
-- script trains on with --data DATA --size SIZE --seed SEED, written to
-- OUT (a safetensors file, N x C x SIZE x SIZE in [-1, 1]) for the PyTorch
-- references in bench/, so that both implementations see the same images:
-- `train` and, with HOLDOUT > 0 (default 0.1, wgan.lua's --holdout), `held`,
-- split by the same seeding and data.random_split as scripts/wgan.lua.
-- HOLDOUT 0 is dcgan.lua's case: every training image, no split.
local spec, size, seed, out, holdout = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4], tonumber(arg[5] or 0.1)
if not (spec and size and seed and out and holdout and holdout >= 0 and holdout < 1) then
  io.stderr:write("usage: ganlua bench/export_images.lua DATA SIZE SEED OUT [HOLDOUT in [0, 1)]\n")
  os.exit(2)
end
tensor.manual_seed(seed)
local all = data.images(spec, { size = size })
local items = { train = all.x:contiguous() }
if holdout > 0 then
  local train, held = data.random_split(all, { 1 - holdout, holdout })
  items = { train = train.x:contiguous(), held = held.x:contiguous() }
end
assert(ckpt.save(out, items))
print(string.format("%s: %d training%s images, %s", out, items.train:size(1),
  items.held and string.format(" and %d held-out", items.held:size(1)) or "", table.concat(all.x:size(), "x")))
