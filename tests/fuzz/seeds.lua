-- tests/fuzz/seeds.lua DIR — the seed corpora of the fuzz targets, written
-- under DIR/<target>/ from the test fixtures and from small files made
-- here with ganlua's own writers (so the seeds are valid inputs).
local dir = assert(arg[1], "usage: ganlua tests/fuzz/seeds.lua DIR")
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local function put(target, name, bytes)
  sys.mkdir(dir .. "/" .. target)
  local f = assert(io.open(dir .. "/" .. target .. "/" .. name, "wb"))
  f:write(bytes); f:close()
end
local function slurp(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end

-- IDX: a 3-d image file and a 1-d label file, plain and gzipped
local img = string.pack(">I4I4I4I4", 0x00000803, 2, 3, 3) .. string.rep("\7", 18)
local lab = string.pack(">I4I4", 0x00000801, 4) .. "\0\1\2\9"
put("idx", "images", img); put("idx", "labels", lab)
for name, bytes in pairs { images = img, labels = lab } do
  local p = os.tmpname()
  local f = assert(io.open(p, "wb")); f:write(bytes); f:close()
  assert(os.execute("gzip -c '" .. p .. "' > '" .. p .. ".gz'"))
  put("idx", name .. ".gz", slurp(p .. ".gz"))
  os.remove(p); os.remove(p .. ".gz")
end

-- images: every fixture
for _, name in ipairs(sys.listdir(here .. "../fixtures/images")) do
  if not name:find("/$") and not name:find("%.py$") then put("image", name, slurp(here .. "../fixtures/images/" .. name)) end
end

-- CIFAR: two records of label + 3072 bytes
put("cifar", "batch", "\3" .. string.rep("\100", 3072) .. "\9" .. string.rep("\200", 3072))

-- safetensors: a checkpoint of a small model with an optimizer and values
local tmp = os.tmpname()
local m = nn.Sequential { nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1) }
local opt = optim.Adam(m:parameters())
m(tensor.randn(4, 2)):sum():backward(); opt:step()
ckpt.save(tmp, { m = m, opt = opt, step = 3, note = "seed" })
put("safetensors", "ckpt", slurp(tmp))
os.remove(tmp)

-- CSV, JSON, CLI
data.write_csv(tensor.randn(4, 2), tmp, "x,y")
put("csv", "header", slurp(tmp)); os.remove(tmp)
put("csv", "plain", "1,2,3\n4,5,6\n")
put("json", "object", json.encode { a = { 1, 2.5, "x", true }, b = { c = json.null or false } })
put("json", "escapes", '["\\u00e9\\n", -1e-3, null, {"k": []}]')
put("cli", "args", "--epochs\n20\n--lr=0.01\n--variant\nb\n--no-verbose\n--name\nrun")
put("cli", "bad", "--epoch\n5\n--lambda\n1e400")
