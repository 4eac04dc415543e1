-- Checkpoints: round trips, bit-identical resume, truncated and corrupted
-- files, a crash during a save, and a plain Python reader.

local function tmp(ext)
  local p = os.tmpname()
  os.remove(p)
  return p .. (ext or ".safetensors")
end

local function model()
  return nn.Sequential { nn.Linear(3, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1) }
end

-- n training steps of a model on random data drawn from the global RNG
local function train(m, opt, n)
  for _ = 1, n do
    local x = tensor.randn(16, 3)
    opt:zero_grad()
    local l = ((m(x) - x:sum(2, true)) ^ 2):mean()
    l:backward()
    opt:step()
  end
end

test("json round trip", function()
  local v = { a = 1, b = { 1, 2.5, "x\n\"y\"" }, c = true, d = { e = -3e-12 }, u = "é" }
  local back = json.decode(json.encode(v))
  check.eq(back.a, 1); check.eq(back.b[2], 2.5); check.eq(back.b[3], "x\n\"y\""); check.eq(back.c, true)
  check.eq(back.d.e, -3e-12); check.eq(back.u, "é")
  check.eq(json.encode { x = 0 / 0, y = math.huge }, '{"x":null,"y":null}')
  check.raises(function() json.decode('{"a": 1,}') end, "json:")
  check.raises(function() json.decode('[1, 2') end, "json:")
  -- a null keeps its place in an array (a hole), not shifting what follows
  local a = json.decode("[null, 2, null, 4]")
  check.eq(a[1], nil); check.eq(a[2], 2); check.eq(a[3], nil); check.eq(a[4], 4)
end)

test("save/load restores modules, optimizer state, values and the RNG", function()
  local path = tmp()
  tensor.manual_seed(11)
  local m, opt = model(), nil
  opt = optim.Adam(m:parameters(), { lr = 0.01 })
  train(m, opt, 3)
  assert(ckpt.save(path, { model = m, opt = opt, step = 3, tag = "x", info = { lr = 0.01 } }))
  local after = tensor.randn(4)
  local m2 = model()
  local o2 = optim.Adam(m2:parameters(), { lr = 0.5 })
  local v = ckpt.load(path, { model = m2, opt = o2 })
  check.eq(v.step, 3); check.eq(v.tag, "x"); check.eq(v.info.lr, 0.01)
  for _, kv in ipairs(m:named_parameters()) do check.allclose(m2:state_dict()[kv[1]], kv[2], 0) end
  check.allclose(m2[2].running_var, m[2].running_var, 0)
  check.eq(o2.lr, 0.01)
  check.eq(o2.state[1].step, 3)
  check.allclose(o2.state[1].exp_avg, opt.state[1].exp_avg, 0)
  check.allclose(tensor.randn(4), after, 0) -- RNG restored to the save point
  os.remove(path)
end)

test("N steps, save, resume N more == 2N straight (bit-identical)", function()
  local path = tmp()
  tensor.manual_seed(5)
  local a = model()
  local oa = optim.Adam(a:parameters(), { lr = 0.01, betas = { 0.5, 0.999 } })
  train(a, oa, 20)
  train(a, oa, 20)
  -- the same run, interrupted after 20 steps
  tensor.manual_seed(5)
  local b = model()
  local ob = optim.Adam(b:parameters(), { lr = 0.01, betas = { 0.5, 0.999 } })
  train(b, ob, 20)
  assert(ckpt.save(path, { model = b, opt = ob, step = 20 }))
  tensor.manual_seed(999) -- whatever happens in between
  local c = model()
  local oc = optim.Adam(c:parameters(), { lr = 0.01, betas = { 0.5, 0.999 } })
  local v = ckpt.load(path, { model = c, opt = oc })
  check.eq(v.step, 20)
  train(c, oc, 20)
  for _, kv in ipairs(a:named_parameters()) do
    check.allclose(c:state_dict()[kv[1]], kv[2], 0, kv[1])
  end
  os.remove(path)
end)

test("truncated, corrupted and foreign files are clear errors", function()
  local path = tmp()
  local m = model()
  assert(ckpt.save(path, { model = m }))
  local f = assert(io.open(path, "rb")); local bytes = f:read("a"); f:close()
  local function write(p, s) local g = assert(io.open(p, "wb")); g:write(s); g:close() end
  local cut = tmp()
  write(cut, bytes:sub(1, #bytes - 7))
  check.raises(function() ckpt.load(cut, { model = model() }) end, cut)
  local ok, err = ckpt.read(cut)
  check.truthy(not ok and err:find("truncated", 1, true), err)
  write(cut, bytes:sub(1, 5))
  ok, err = ckpt.read(cut)
  check.truthy(not ok and err:find("not a safetensors file", 1, true), err)
  -- header length pointing past the end
  write(cut, "\255\255\0\0\0\0\0\0{}")
  ok, err = ckpt.read(cut)
  check.truthy(not ok and err:find("does not fit", 1, true), err)
  -- garbage inside the JSON header
  local hl = string.unpack("<I8", bytes)
  write(cut, bytes:sub(1, 8) .. string.rep("#", hl) .. bytes:sub(9 + hl))
  ok, err = ckpt.read(cut)
  check.truthy(not ok and (err:find("header", 1, true)), err)
  -- offsets that disagree with the shape
  local hdr = bytes:sub(9, 8 + hl):gsub('"shape":%[8,3%]', '"shape":[9,3]', 1)
  write(cut, bytes:sub(1, 8) .. hdr .. bytes:sub(9 + hl))
  ok, err = ckpt.read(cut)
  check.truthy(not ok and err:find("bytes for", 1, true), err)
  -- a 0 among the sizes does not let through others whose product overflows
  local z = '{"a":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}'
  write(cut, string.pack("<I8", #z) .. z)
  ok, err = ckpt.read(cut)
  check.truthy(not ok and err:find("implausible shape", 1, true), err)
  z = '{"a":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}'
  write(cut, string.pack("<I8", #z) .. z)
  check.shape(assert(ckpt.read(cut)).tensors.a, { 0, 3 })
  check.raises(function() ckpt.load(tmp(), {}) end, "No such file")
  -- shapes that do not fit the target module
  local other = nn.Sequential { nn.Linear(3, 9), nn.BatchNorm1d(9), nn.LeakyReLU(0.2), nn.Linear(9, 1) }
  check.raises(function() ckpt.load(path, { model = other }) end, "size mismatch")
  os.remove(path); os.remove(cut)
end)

-- The tensors must tile the data section, and the header's fields have
-- the types the format gives them: anything else is nil, message (never a
-- raw error, never a silently accepted file).
test("malformed headers: offsets that overlap, leave gaps or spare bytes; wrong types", function()
  local cut = tmp()
  local function try(hdr, data)
    local g = assert(io.open(cut, "wb")); g:write(string.pack("<I8", #hdr) .. hdr .. (data or "")); g:close()
    return ckpt.read(cut)
  end
  local f8 = string.rep("\0", 8)
  local function bad(hdr, data, want)
    local ok, err = try(hdr, data)
    check.truthy(not ok and type(err) == "string" and err:find(want, 1, true) and err:find(cut, 1, true), tostring(err))
  end
  local a = '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
  check.shape(assert(try("{" .. a .. "}", f8)).tensors.a, { 2 })
  bad('{' .. a .. ',"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f8 .. f8, "where 8 was expected")
  bad('{' .. a .. ',"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}', f8 .. f8, "where 8 was expected")
  bad('{' .. a .. '}', f8 .. "\0\0\0\0", "use 8 bytes of a 12-byte")
  bad('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}', f8, "malformed header entry for 'a'")
  bad('{"a":{"dtype":"F32","shape":[null,2],"data_offsets":[0,8]}}', f8, "malformed header entry")
  bad('{"a":{"dtype":"F32","shape":{"x":2},"data_offsets":[0,8]}}', f8, "malformed header entry")
  bad('{"a":{"dtype":"F32","shape":[2],"data_offsets":["0",8]}}', f8, "malformed header entry")
  bad('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', f8, "malformed header entry")
  bad('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,1e20]}}', f8, "malformed header entry")
  bad('{"__metadata__":[1,2],' .. a .. '}', f8, "__metadata__ must be an object of strings")
  bad('{"__metadata__":{"k":3},' .. a .. '}', f8, "__metadata__ must be an object of strings")
  os.remove(cut)
end)

test("a crash during a save leaves the previous checkpoint loadable", function()
  local path = tmp()
  local big = nn.Sequential { nn.Linear(1000, 1000), nn.Linear(1000, 1000) }
  assert(ckpt.save(path, { model = big, step = 1 }))
  -- a child process saving a bigger model over and over, killed mid-write
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
    local m = nn.Sequential { nn.Linear(1000, 1000), nn.Linear(1000, 1000) }
    for i = 2, 1000 do ckpt.save(%q, { model = m, step = i }) end
  ]], path))
  f:close()
  os.execute(string.format("(%s %s & pid=$!; sleep 0.7; kill -9 $pid; wait $pid) >/dev/null 2>&1", check.ganlua, script))
  local v = ckpt.load(path, { model = nn.Sequential { nn.Linear(1000, 1000), nn.Linear(1000, 1000) } })
  check.truthy(math.type(v.step) == "integer" and v.step >= 1)
  os.remove(script)
  os.execute("rm -f '" .. path .. "'*")
end)

test("a plain Python reader (json + struct) sees names, shapes, dtypes and values", function()
  local py = io.popen("command -v python3"):read("l")
  if not py then print("  (skipped: no python3)") return end
  local path = tmp()
  local m = nn.Linear(3, 2)
  assert(ckpt.save(path, { model = m }))
  local reader = os.tmpname()
  local f = assert(io.open(reader, "w"))
  f:write([[
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
data = b[8 + n:]
for name in sorted(k for k in h if k != "__metadata__"):
    e = h[name]
    s, t = e["data_offsets"]
    vals = struct.unpack("<%df" % ((t - s) // 4), data[s:t])
    print(name, e["dtype"], "x".join(map(str, e["shape"])), " ".join("%.6g" % v for v in vals))
print("meta", "ganlua" in h["__metadata__"])
]])
  f:close()
  local out = io.popen(py .. " " .. reader .. " " .. path):read("a")
  local w = m.weight:totable()
  check.truthy(out:find("model.weight F32 2x3 " .. string.format("%.6g", w[1][1]), 1, true), out)
  check.truthy(out:find("model.bias F32 2 ", 1, true), out)
  check.truthy(out:find("meta True", 1, true), out)
  os.remove(reader); os.remove(path)
end)

test("ckpt.manager keeps the last K checkpoints and the best by a metric, and carries on after a resume", function()
  local dir = check.tmpdir()
  local m = nn.Linear(2, 1)
  local M = ckpt.manager(dir, { keep = 2, best = "score", mode = "max" })
  local scores = { 1.0, 3.0, 2.0, 0 / 0, 2.5 }
  for k, sc in ipairs(scores) do
    autograd.no_grad(function() m.bias:fill_(k) end)
    check.eq(M:save(k * 100, { m = m, step = k * 100 }, { score = sc }), string.format("%s/ckpt_%08d.safetensors", dir, k * 100))
  end
  local function exists(p) local f = io.open(p) if f then f:close() end return f ~= nil end
  for k = 1, 3 do check.truthy(not exists(string.format("%s/ckpt_%08d.safetensors", dir, k * 100)), "step " .. k * 100 .. " kept") end
  check.truthy(exists(dir .. "/ckpt_00000400.safetensors") and exists(dir .. "/ckpt_00000500.safetensors"))
  check.eq(M:latest(), dir .. "/ckpt_00000500.safetensors")
  local bp, bv = M:best()
  check.eq(bp, dir .. "/best.safetensors"); check.eq(bv, 3.0)
  local m2 = nn.Linear(2, 1)
  check.eq(ckpt.load(bp, { m = m2 }).step, 200) -- the best is step 200's state (NaN never wins)
  check.near(m2.bias:item(), 2)
  -- a new manager over the same directory (a resumed run) knows what it kept and the best so far
  local R = ckpt.manager(dir, { keep = 2, best = "score" })
  check.eq(R:latest(), dir .. "/ckpt_00000500.safetensors")
  R:save(600, { m = m }, { score = 2.9 })
  check.truthy(not exists(dir .. "/ckpt_00000400.safetensors"))
  check.eq(select(2, R:best()), 3.0)
  local L = ckpt.manager(dir, { best = "loss", mode = "min" }) -- another metric starts its own record
  check.eq(L:best(), nil)
  check.raises(function() R:save(700, { m = m }, { score = "high" }) end, "metric score is a string")
  check.raises(function() ckpt.manager(dir, { keep = 0 }) end, "keep")
  check.raises(function() ckpt.manager("/dev/null/x"):save(1, { m = m }) end, "/dev/null/x")
  check.write(dir .. "/checkpoints.json", "not json")
  check.raises(function() ckpt.manager(dir) end, "checkpoints.json is not a checkpoint record")
  os.execute("rm -rf '" .. dir .. "'")
end)
