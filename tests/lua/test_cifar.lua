-- data.cifar10 on files in CIFAR-10's binary layout, written here: records
-- of a label byte and 3072 pixel bytes (red, green, blue planes of 32 rows).

local function scratch()
  local d = os.tmpname()
  os.remove(d)
  assert(sys.mkdir(d))
  return d
end

-- record r's byte k of plane c (0-based) is (7r + 50c + k) mod 256
local function record(r, label)
  local b = { string.char(label) }
  for c = 0, 2 do
    local plane = {}
    for k = 0, 1023 do plane[k + 1] = string.char((7 * r + 50 * c + k) % 256) end
    b[#b + 1] = table.concat(plane)
  end
  return table.concat(b)
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- five training batches of 3 records (record r has label r mod 10) and a test batch of 2
local function make_dataset(dir)
  local r = 0
  for i = 1, 5 do
    local recs = {}
    for _ = 1, 3 do
      recs[#recs + 1] = record(r, r % 10)
      r = r + 1
    end
    write(dir .. "/data_batch_" .. i .. ".bin", table.concat(recs))
  end
  write(dir .. "/test_batch.bin", record(100, 9) .. record(101, 0))
end

test("data.cifar10 reads the binary batches in order: planes, rows, labels, classes", function()
  local root = scratch()
  local dir = root .. "/cifar-10-batches-bin"
  assert(sys.mkdir(dir))
  make_dataset(dir)
  local ds = data.cifar10 { dir = root }
  check.shape(ds.x, { 15, 3, 32, 32 })
  check.allclose(ds.labels, { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5 }, 0)
  for _, at in ipairs { { 1, 1, 1, 1 }, { 4, 2, 1, 5 }, { 15, 3, 32, 32 }, { 9, 1, 17, 3 } } do
    local r, c, row, col = at[1] - 1, at[2] - 1, at[3] - 1, at[4] - 1
    local byte = (7 * r + 50 * c + row * 32 + col) % 256
    check.near(ds.x[at[1]][at[2]][at[3]][at[4]]:item(), byte / 255 * 2 - 1, 1e-6)
  end
  check.eq(ds.classes[1], "airplane")
  check.eq(ds.classes[10], "truck")
  check.eq(#ds.files, 5)
  local test = data.cifar10 { dir = dir, split = "test", range = "unit" }
  check.shape(test.x, { 2, 3, 32, 32 })
  check.allclose(test.labels, { 10, 1 }, 0)
  check.near(test.x[2][3][1][2]:item(), ((7 * 101 + 100 + 1) % 256) / 255, 1e-6)
  write(dir .. "/batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n")
  check.eq(table.concat(data.cifar10 { dir = dir, split = "test" }.classes, ""), "abcdefghij")
  os.execute("rm -rf '" .. root .. "'")
end)

test("data.cifar10: a truncated batch, a bad label, a missing batch or the Python version are errors", function()
  local dir = scratch()
  make_dataset(dir)
  write(dir .. "/data_batch_4.bin", record(0, 1) .. record(1, 2):sub(1, 3000))
  check.raises(function() data.cifar10 { dir = dir } end,
    "data_batch_4.bin holds 6073 bytes, not a whole number of 3073-byte records")
  write(dir .. "/data_batch_4.bin", record(0, 1) .. record(1, 10))
  check.raises(function() data.cifar10 { dir = dir } end, "data_batch_4.bin: record 11 has label 10")
  os.remove(dir .. "/data_batch_4.bin")
  check.raises(function() data.cifar10 { dir = dir } end, "data_batch_4.bin not found")
  check.raises(function() data.cifar10 { dir = dir .. "/none" } end, "data_batch_1.bin not found in")
  assert(sys.mkdir(dir .. "/py/cifar-10-batches-py"))
  write(dir .. "/py/cifar-10-batches-py/data_batch_1", "pickle")
  check.raises(function() data.cifar10 { dir = dir .. "/py" } end, "holds CIFAR-10's Python version")
  check.raises(function() data.cifar10 { dir = dir, split = "val" } end, "option split: expected one of \"train\", \"test\", got \"val\"")
  os.execute("rm -rf '" .. dir .. "'")
end)
