-- tests/run.lua — the Lua test runner, run by the ganlua binary itself:
--   ganlua tests/run.lua [file-or-pattern ...]
-- Each tests/lua/test_*.lua file calls test(name, fn) for each case; a case
-- passes when fn returns without raising. The runner prints one line per
-- failure and ends with "N passed, N failed"; exit status 1 on any failure.
--
-- Why not busted: the tests run inside the ganlua executable (embedded
-- stdlib, the globals a script sees), need no extra package, and print the
-- closing line the CI reads. lua5.4 + ganlua.so is tested separately.
local passed, failed = 0, 0
local current_file

local T = {}
-- assertions -----------------------------------------------------------
function T.eq(a, b, msg)
  if a ~= b then error(string.format("%sexpected %s, got %s", msg and msg .. ": " or "", tostring(b), tostring(a)), 2) end
end
function T.near(a, b, tol, msg)
  tol = tol or 1e-5
  if type(a) ~= "number" or type(b) ~= "number" or math.abs(a - b) > tol * math.max(1, math.abs(b)) or a ~= a then
    error(string.format("%sexpected %s (tol %g), got %s", msg and msg .. ": " or "", tostring(b), tol, tostring(a)), 2)
  end
end
-- all elements of tensor (or nested table) a close to b (tensor, table or number)
function T.allclose(a, b, tol, msg)
  tol = tol or 1e-5
  local fa = tensor.is_tensor(a) and a or tensor.from(a)
  local fb = tensor.is_tensor(b) and b or (type(b) == "number" and tensor.full(fa:size(), b) or tensor.from(b))
  if fa:numel() ~= fb:numel() then
    error(string.format("%sexpected %d elements, got %d", msg and msg .. ": " or "", fb:numel(), fa:numel()), 2)
  end
  for i = 1, fa:numel() do
    local x, y = tensor._get(fa, i), tensor._get(fb, i)
    if not (math.abs(x - y) <= tol * math.max(1, math.abs(y))) then
      error(string.format("%selement %d: expected %.7g, got %.7g (tol %g)", msg and msg .. ": " or "", i, y, x, tol), 2)
    end
  end
end
function T.shape(t, s, msg)
  local got = t:size()
  local ok = #got == #s
  for i = 1, #s do ok = ok and got[i] == s[i] end
  if not ok then
    error(string.format("%sexpected shape {%s}, got {%s}", msg and msg .. ": " or "",
      table.concat(s, ","), table.concat(got, ",")), 2)
  end
end
-- fn must raise an error whose message contains pattern (plain text)
function T.raises(fn, pattern, msg)
  local ok, err = pcall(fn)
  if ok then error((msg and msg .. ": " or "") .. "expected an error" .. (pattern and (" matching '" .. pattern .. "'") or ""), 2) end
  err = tostring(err)
  if pattern and not err:find(pattern, 1, true) then
    error(string.format("%serror '%s' does not contain '%s'", msg and msg .. ": " or "", err, pattern), 2)
  end
  return err
end
-- fn must raise an error whose message contains every one of the strings
function T.raises_all(fn, ...)
  local ok, err = pcall(fn)
  if ok then error("expected an error", 2) end
  err = tostring(err)
  for _, s in ipairs { ... } do
    if not err:find(s, 1, true) then error(string.format("error '%s' does not contain '%s'", err, s), 2) end
  end
  return err
end
function T.truthy(v, msg) if not v then error(msg or "expected a true value", 2) end end
-- gradcheck / gradgradcheck verdicts
function T.gradcheck(fn, inputs, opts)
  local ok, report = autograd.gradcheck(fn, inputs, opts)
  if not ok then error("gradcheck failed: " .. report, 2) end
end
function T.gradgradcheck(fn, inputs, opts)
  local ok, report = autograd.gradgradcheck(fn, inputs, opts)
  if not ok then error("gradgradcheck failed: " .. report, 2) end
end
-- a fresh temporary directory; a file written whole, and read whole
function T.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p '" .. d .. "'"))
  return d
end
function T.write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end
function T.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
-- a directory holding MNIST's first n training images (and labels) as
-- both its training and its test set, cut from data/mnist
function T.small_mnist(n)
  local d = T.tmpdir()
  local function cut(src, dst, header, per)
    local f = assert(io.open("data/mnist/" .. src, "rb"))
    local h = f:read(header)
    local body = f:read(n * per)
    f:close()
    h = h:sub(1, 4) .. string.pack(">I4", n) .. h:sub(9)
    T.write(d .. "/" .. dst, h .. body)
  end
  cut("train-images-idx3-ubyte", "train-images-idx3-ubyte", 16, 784)
  cut("train-labels-idx1-ubyte", "train-labels-idx1-ubyte", 8, 1)
  cut("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", 16, 784)
  cut("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte", 8, 1)
  return d
end
-- run the ganlua executable with args (a shell string); its output and exit status
function T.run(args)
  local p = io.popen(string.format("%s %s 2>&1; echo \"rc=$?\"", T.ganlua, args))
  local out = p:read("a")
  p:close()
  return out, tonumber(out:match("rc=(%d+)%s*$"))
end
T.dir = (arg and arg[0] or "tests/run.lua"):match("^(.*)/[^/]*$") or "."
T.ganlua = os.getenv("GANLUA") or "./ganlua"

local cases = {}
function test(name, fn) cases[#cases + 1] = { file = current_file, name = name, fn = fn } end
check = T

local files = {}
local want = { ... }
local p = io.popen("ls " .. T.dir .. "/lua/test_*.lua 2>/dev/null")
for f in p:lines() do
  local keep = #want == 0
  for _, w in ipairs(want) do if f:find(w, 1, true) then keep = true end end
  if keep then files[#files + 1] = f end
end
p:close()

for _, f in ipairs(files) do
  current_file = f:match("[^/]*$")
  local chunk, err = loadfile(f)
  if not chunk then
    failed = failed + 1
    print("FAIL " .. current_file .. ": " .. err)
  else
    local ok, e = pcall(chunk)
    if not ok then failed = failed + 1; print("FAIL " .. current_file .. " (loading): " .. tostring(e)) end
  end
end

for _, c in ipairs(cases) do
  tensor.manual_seed(1234)
  local ok, err = xpcall(c.fn, debug.traceback)
  autograd.set_grad_enabled(true)
  if ok then passed = passed + 1
  else
    failed = failed + 1
    print(string.format("FAIL %s: %s\n  %s", c.file, c.name, tostring(err):gsub("\n", "\n  ")))
  end
end
print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
