-- Sample grids (torchvision's make_grid/save_image layout), PNG round
-- trips, GIF animations, atomic writes and failures.

local function tmp(ext)
  local p = os.tmpname()
  os.remove(p)
  return p .. ext
end

local function read_bytes(path, n)
  local f = assert(io.open(path, "rb"))
  local s = f:read(n or "a")
  f:close()
  return s
end

test("make_grid layout follows torchvision (nrow, padding, grey to RGB)", function()
  local g = image.make_grid(tensor.ones(10, 1, 4, 5), { nrow = 4, padding = 2 })
  -- 3 rows x 4 columns of 4x5 images with 2-pixel padding around each
  check.shape(g, { 3, 3 * (4 + 2) + 2, 4 * (5 + 2) + 2 })
  check.eq(tensor._get(g, 1), 0)                     -- padding is pad_value 0
  check.eq(g[1][3][3]:item(), 1)                     -- first pixel of image 1
  check.eq(g[2][3][3]:item(), 1)                     -- grey copied to G
  check.eq(g[1][3 + 12][3 + 21]:item(), 0)           -- the 12th cell is empty
  local few = image.make_grid(tensor.ones(3, 3, 2, 2), { nrow = 8, padding = 0 })
  check.shape(few, { 3, 2, 6 })                      -- fewer images than nrow
end)

test("make_grid normalize: min-max overall, per image, or a range", function()
  local t = tensor.from { { { { -1, 0 } } }, { { { 1, 3 } } } } -- 2 x 1 x 1 x 2
  local all = image.make_grid(t, { padding = 0, normalize = true })
  check.allclose(all[1], { { 0, 0.25, 0.5, 1 } }, 1e-6)
  local each = image.make_grid(t, { padding = 0, normalize = true, scale_each = true })
  check.allclose(each[1], { { 0, 1, 0, 1 } }, 1e-6)
  local range = image.make_grid(t, { padding = 0, normalize = true, range = { -1, 1 } })
  check.allclose(range[1], { { 0, 0.5, 1, 1 } }, 1e-6) -- clamped above
end)

test("save_grid round trip through image.load", function()
  local x = tensor.rand(6, 3, 8, 8)
  local path = tmp(".png")
  assert(image.save_grid(x, path, { nrow = 3 }))
  check.eq(read_bytes(path, 8), "\137PNG\r\n\26\n")
  local back = assert(image.load(path))
  local want = image.make_grid(x, { nrow = 3 })
  check.shape(back, want:size())
  -- 8-bit quantisation: within half a level
  check.truthy((back - want):abs():max():item() <= 0.5 / 255 + 1e-6)
  os.remove(path)
end)

test("writes are atomic and failures return nil, message", function()
  local path = tmp(".png")
  assert(image.save_grid(tensor.rand(1, 1, 4, 4), path))
  local dir = path:match("^(.*)/")
  local p = io.popen("ls " .. dir .. " | grep -c '" .. path:match("[^/]*$") .. ".tmp' || true")
  check.eq(p:read("l"), "0")
  p:close()
  local ok, err = image.save_grid(tensor.rand(1, 1, 4, 4), "/nonexistent-dir/x.png")
  check.eq(ok, nil)
  check.truthy(err:find("/nonexistent-dir/x.png", 1, true), err)
  local t, lerr = image.load("/nonexistent-dir/x.png")
  check.eq(t, nil)
  check.truthy(lerr:find("No such file", 1, true))
  local bad = tmp(".png")
  local f = io.open(bad, "wb"); f:write("not a png"); f:close()
  t, lerr = image.load(bad)
  check.truthy(not t and lerr:find(bad, 1, true), lerr)
  check.raises(function() image.save_grid(tensor.rand(2, 2, 4, 4), path) end, "1 or 3 channels")
  os.remove(path); os.remove(bad)
end)

test("image.load refuses a JPEG Huffman table of more than 256 codes", function()
  -- stb_image 2.27 would write past its tables; SOI, then a DHT segment of
  -- length 19: class 0, table 0, sixteen counts of 255
  local bad = tmp(".jpg")
  local f = assert(io.open(bad, "wb"))
  f:write("\255\216\255\196\0\19\0" .. string.rep("\255", 16))
  f:close()
  local t, err = image.load(bad)
  check.truthy(not t and err:find("Huffman", 1, true) and err:find(bad, 1, true), err)
  os.remove(bad)
end)

test("image.load refuses 16-bit PNMs, reads 8-bit ones", function()
  -- stb_image 2.27 misreads their byte order and, converting channels, reads past its buffer
  local pgm = tmp(".pgm")
  local f = assert(io.open(pgm, "wb"))
  f:write("P5\n2 1\n65535\n\255\0\128\0")
  f:close()
  local t, err = image.load(pgm, 3)
  check.truthy(not t and err:find("16-bit PNM", 1, true) and err:find(pgm, 1, true), err)
  f = assert(io.open(pgm, "wb"))
  f:write("P5\n2 1\n255\n\255\128")
  f:close()
  t = assert(image.load(pgm, 3))
  check.allclose(t, { { { 1, 128 / 255 } }, { { 1, 128 / 255 } }, { { 1, 128 / 255 } } }, 1e-6)
  os.remove(pgm)
end)

test("GIF animation of grids", function()
  local anim = image.animation { nrow = 2 }
  for i = 1, 4 do anim:add(tensor.full({ 4, 1, 6, 6 }, i / 4)) end
  local path = tmp(".gif")
  assert(anim:save(path, { delay = 0.2 }))
  local head = read_bytes(path, 10)
  check.eq(head:sub(1, 6), "GIF89a")
  local w, h = head:byte(7) + 256 * head:byte(8), head:byte(9) + 256 * head:byte(10)
  check.eq(w, 2 * (6 + 2) + 2)
  check.eq(h, 2 * (6 + 2) + 2)
  local body = read_bytes(path)
  check.truthy(body:find("NETSCAPE2.0", 1, true), "loops")
  local _, frames = body:gsub("\33\249\4", "")
  check.eq(frames, 4)
  os.remove(path)
  local a2 = image.animation()
  a2:add(tensor.rand(1, 3, 4, 4))
  a2:add(tensor.rand(1, 3, 5, 5))
  local ok, err = a2:save(tmp(".gif"))
  check.truthy(not ok and err:find("frame 2", 1, true), err)
end)
