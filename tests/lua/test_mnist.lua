-- IDX loading and data.mnist: small files the test writes (good, gzipped,
-- truncated, wrong magic, trailing bytes), and the real data when present.
local F = require("ganlua.core").formats

local function be32(n) return string.char((n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255) end

local write = check.write

-- n images of 28 x 28 whose pixel (r, c) of image k is (k + r + c) % 256
local function images(n)
  local parts = { "\0\0\8\3", be32(n), be32(28), be32(28) }
  for k = 0, n - 1 do
    local row = {}
    for r = 0, 27 do for c = 0, 27 do row[#row + 1] = string.char((k + r + c) % 256) end end
    parts[#parts + 1] = table.concat(row)
  end
  return table.concat(parts)
end

local function labels(list)
  local parts = { "\0\0\8\1", be32(#list) }
  for _, v in ipairs(list) do parts[#parts + 1] = string.char(v) end
  return table.concat(parts)
end

local tmpdir = check.tmpdir

test("load_idx reads the declared shape and values", function()
  local d = tmpdir()
  write(d .. "/a", images(3))
  local t = assert(F.load_idx(d .. "/a"))
  check.shape(t, { 3, 28, 28 })
  check.eq(tensor._get(t, 1), 0)
  check.eq(tensor._get(t, 28 * 28 * 2 + 28 + 2), (2 + 1 + 1) % 256)
  os.execute("rm -rf '" .. d .. "'")
end)

test("load_idx: truncated, wrong magic, trailing bytes, wrong type, missing file", function()
  local d = tmpdir()
  local good = images(2)
  write(d .. "/trunc", good:sub(1, #good - 10))
  local t, err = F.load_idx(d .. "/trunc")
  check.eq(t, nil)
  check.truthy(err:find("truncated", 1, true) and err:find(d .. "/trunc", 1, true), err)
  write(d .. "/magic", "\1\2\8\3" .. good:sub(5))
  t, err = F.load_idx(d .. "/magic")
  check.truthy(not t and err:find("not an IDX file", 1, true), err)
  write(d .. "/trail", good .. "xx")
  t, err = F.load_idx(d .. "/trail")
  check.truthy(not t and err:find("trailing bytes", 1, true), err)
  write(d .. "/type", "\0\0\13\3" .. good:sub(5))
  t, err = F.load_idx(d .. "/type")
  check.truthy(not t and err:find("not supported", 1, true), err)
  write(d .. "/hdr", "\0\0\8\3" .. be32(2))
  t, err = F.load_idx(d .. "/hdr")
  check.truthy(not t and err:find("truncated in the IDX header", 1, true), err)
  write(d .. "/empty", "")
  t, err = F.load_idx(d .. "/empty")
  check.truthy(not t and err:find("not an IDX file", 1, true), err)
  t, err = F.load_idx(d .. "/missing")
  check.truthy(not t and err:find("No such file", 1, true), err)
  -- a header claiming 2^34 values fails on the missing data, not on memory
  write(d .. "/huge", "\0\0\8\3" .. be32(65536) .. be32(65536) .. be32(4) .. "abc")
  t, err = F.load_idx(d .. "/huge")
  check.truthy(not t and err:find("truncated", 1, true), err)
  os.execute("rm -rf '" .. d .. "'")
end)

test("load_idx: a zero size hiding huge ones; gzip members, trailing bytes, truncation, checksum", function()
  local d = tmpdir()
  -- 0 x (2^32-1) x (2^32-1) holds no value, but its sizes multiply past int64
  write(d .. "/zero", "\0\0\8\3" .. be32(0) .. be32(0xffffffff) .. be32(0xffffffff))
  local t, err = F.load_idx(d .. "/zero")
  check.truthy(not t and err:find("implausible", 1, true), err)
  write(d .. "/empty", "\0\0\8\2" .. be32(0) .. be32(28))
  check.shape(assert(F.load_idx(d .. "/empty")), { 0, 28 })
  local good = labels { 7, 2, 1 }
  write(d .. "/a", good:sub(1, 9))
  write(d .. "/b", good:sub(10))
  write(d .. "/l", good)
  assert(os.execute("cd '" .. d .. "' && gzip -c a > two.gz && gzip -c b >> two.gz && gzip -c l > l.gz"))
  check.allclose(assert(F.load_idx(d .. "/two.gz")), { 7, 2, 1 }) -- members in a row are one stream
  local f = assert(io.open(d .. "/l.gz", "rb"))
  local gz = f:read("a")
  f:close()
  local bad = {
    garbage = gz .. "garbage", -- gzread skipped bytes after the last member
    zeros = gz .. string.rep("\0", 8),
    cut = gz:sub(1, #gz - 4),
    crc = gz:sub(1, #gz - 8) .. string.char(gz:byte(#gz - 7) ~ 1) .. gz:sub(#gz - 6),
  }
  for name, bytes in pairs(bad) do
    write(d .. "/" .. name .. ".gz", bytes)
    t, err = F.load_idx(d .. "/" .. name .. ".gz")
    check.truthy(not t and err:find("corrupt gzip stream", 1, true) and err:find(name .. ".gz", 1, true), err)
  end
  os.execute("rm -rf '" .. d .. "'")
end)

test("data.mnist on a small generated set, plain and gzipped, torchvision layout", function()
  local d = tmpdir()
  write(d .. "/t10k-images-idx3-ubyte", images(4))
  write(d .. "/t10k-labels-idx1-ubyte", labels { 7, 2, 1, 0 })
  local ds = data.mnist { split = "test", dir = d }
  check.shape(ds.x, { 4, 1, 28, 28 })
  check.allclose(ds.labels, { 8, 3, 2, 1 })
  check.near(ds.x:min():item(), -1, 1e-6)
  check.near(tensor._get(ds.x, 2), 1 * 2 / 255 - 1, 1e-6)
  local unit = data.mnist { split = "test", dir = d, range = "unit" }
  check.near(tensor._get(unit.x, 2), 1 / 255, 1e-6)
  -- gzipped, in a torchvision-style tree
  assert(os.execute("mkdir -p '" .. d .. "/tv/MNIST/raw' && gzip -c '" .. d .. "/t10k-images-idx3-ubyte' > '" ..
    d .. "/tv/MNIST/raw/t10k-images-idx3-ubyte.gz' && gzip -c '" .. d .. "/t10k-labels-idx1-ubyte' > '" ..
    d .. "/tv/MNIST/raw/t10k-labels-idx1-ubyte.gz'"))
  local gz = data.mnist { split = "test", dir = d .. "/tv" }
  check.allclose(gz.x, ds.x)
  check.truthy(gz.files.images:find("%.gz$"))
  -- a corrupted gzip stream is an error naming the file
  local f = assert(io.open(d .. "/tv/MNIST/raw/t10k-images-idx3-ubyte.gz", "r+b"))
  f:seek("set", 40)
  f:write(string.rep("\255", 64))
  f:close()
  check.raises(function() data.mnist { split = "test", dir = d .. "/tv" } end, "t10k-images-idx3-ubyte.gz")
  -- labels that do not match the images
  write(d .. "/t10k-labels-idx1-ubyte", labels { 1, 2 })
  check.raises(function() data.mnist { split = "test", dir = d } end, "has 2 labels for 4 images")
  check.raises(function() data.mnist { split = "train", dir = d } end, "train-images-idx3-ubyte not found")
  check.raises(function() data.mnist { split = "val", dir = d } end, "option split: expected one of \"train\", \"test\"")
  os.execute("rm -rf '" .. d .. "'")
end)

test("real MNIST (after make data): sizes, range, label histogram", function()
  local f = io.open("data/mnist/t10k-labels-idx1-ubyte", "rb")
  if not f then print("  (skipped: run make data)") return end
  f:close()
  local ds = data.mnist { split = "test" }
  check.shape(ds.x, { 10000, 1, 28, 28 })
  check.near(ds.x:min():item(), -1, 1e-6)
  check.near(ds.x:max():item(), 1, 1e-6)
  check.allclose(ds.labels:narrow(1, 1, 5), { 8, 3, 2, 1, 5 }) -- the digits 7 2 1 0 4
  local ones = ds.labels:eq(2):sum():item()
  check.eq(ones, 1135) -- test-set count of the digit 1
end)

test("data.images: a 28 x 28 set resized by one call, a folder cropped; bad specs and options named", function()
  local d = tmpdir()
  write(d .. "/t10k-images-idx3-ubyte", images(3))
  write(d .. "/t10k-labels-idx1-ubyte", labels { 7, 2, 1 })
  local base = data.mnist { split = "test", dir = d }
  local same = data.images("mnist", { split = "test", dir = d })
  check.allclose(same.x, base.x)
  local big = data.images("mnist", { split = "test", dir = d, size = 32 })
  check.shape(big.x, { 3, 1, 32, 32 })
  check.allclose(big.labels, base.labels)
  -- each image resized on its own: image 2 of the batch is image.resize of image 2 alone (up to where
  -- the overshoot is clamped: the range of all images there, of the one image here)
  check.allclose(big.x[2][1], image.resize(base.x[2], 32, 32)[1], 1e-3)
  check.truthy(big.x:max():item() <= 1 + 1e-6 and big.x:min():item() >= -1 - 1e-6, "stays in [-1, 1]")
  sys.mkdir(d .. "/folder")
  sys.mkdir(d .. "/folder/a")
  image.save(tensor.rand(3, 20, 30), d .. "/folder/a/x.png")
  local f = data.images("folder:" .. d .. "/folder", { size = 16 })
  check.shape(f.x, { 1, 3, 16, 16 })
  check.raises(function() data.images("folder:" .. d .. "/folder") end, "needs size")
  check.raises(function() data.images("folder:" .. d .. "/folder", { size = 16, split = "test" }) end, "has no test split")
  check.raises(function() data.images("mnsit") end, 'unknown image set "mnsit" (expected mnist, fashion or folder:DIR)')
  check.raises(function() data.images("mnist", { szie = 3 }) end, "szie")
  check.raises(function() data.images(3) end, "data.images")
  os.execute("rm -rf '" .. d .. "'")
end)

test("data.random_split: fractions or counts, a partition of the samples, labels follow", function()
  tensor.manual_seed(5)
  local x = tensor.arange(1, 11):reshape(10, 1)
  local ds = data.dataset(x, tensor.arange(1, 11) * 10)
  local a, b = data.random_split(ds, { 0.7, 0.3 })
  check.eq(a:size(), 7)
  check.eq(b:size(), 3)
  local seen = {}
  for _, part in ipairs { a, b } do
    for i = 1, part:size() do
      local v = tensor._get(part.x, i)
      check.eq(seen[v], nil, "sample " .. v .. " in two parts")
      seen[v] = true
      check.eq(tensor._get(part.labels, i), v * 10)
    end
  end
  local n = 0
  for _ in pairs(seen) do n = n + 1 end
  check.eq(n, 10)
  local c1, c2, c3 = data.random_split(ds, { 5, 4, 1 })
  check.eq(c1:size() + c2:size() + c3:size(), 10)
  check.raises(function() data.random_split(ds, { 0.5, 0.4 }) end, "fractions must sum to 1")
  check.raises(function() data.random_split(ds, { 5, 4 }) end, "sizes sum to 9, the dataset has 10 samples")
  check.raises(function() data.random_split(ds, { 5, 0.5 }) end, "mix of sizes and fractions")
  check.raises(function() data.random_split(x, { 1 }) end, "data.random_split")
end)

-- The data sets are found from any working directory: $GANLUA_DATA, then
-- ./data, then data/ next to the executable (this checkout), then an
-- install's share/ganlua/data; a miss lists every place looked in.
test("data.root: a script run from another directory finds the checkout's data, or says where it looked", function()
  local dir = check.tmpdir()
  local exe = check.ganlua:sub(1, 1) == "/" and check.ganlua or (os.getenv("PWD") .. "/" .. check.ganlua:gsub("^%./", ""))
  local script = dir .. "/where.lua"
  check.write(script, 'local p, places = data.root("mnist"); print(p); print(table.concat(places, ";"))\n')
  local p = io.popen(string.format("cd '%s' && env -u GANLUA_DATA '%s' where.lua 2>&1", dir, exe))
  local out = p:read("a")
  p:close()
  local root = exe:match("^(.*)/[^/]*$")
  local found, places = out:match("^([^\n]*)\n([^\n]*)")
  check.truthy(places and places:find("data/mnist;" .. root .. "/data/mnist", 1, true), out)
  if io.open(root .. "/data/mnist/t10k-labels-idx1-ubyte") then check.eq(found, root .. "/data/mnist", out) end
  p = io.popen(string.format("cd '%s' && GANLUA_DATA=/dev/null/d '%s' -e 'data.mnist{split = \"test\", dir = nil}' 2>&1", dir, exe))
  out = p:read("a")
  p:close()
  -- with GANLUA_DATA pointing nowhere, the next place that exists is used, or the miss names them all
  check.truthy(out == "" or out:find("looked in /dev/null/d/mnist, data/mnist, " .. root .. "/data/mnist", 1, true), out)
  os.execute("rm -rf '" .. dir .. "'")
end)
