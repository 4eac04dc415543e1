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

test("writes are atomic and a failed write raises", function()
  local path = tmp(".png")
  assert(image.save_grid(tensor.rand(1, 1, 4, 4), path))
  local dir = path:match("^(.*)/")
  local p = io.popen("ls " .. dir .. " | grep -c '" .. path:match("[^/]*$") .. ".tmp' || true")
  check.eq(p:read("l"), "0")
  p:close()
  check.raises(function() image.save_grid(tensor.rand(1, 1, 4, 4), "/nonexistent-dir/x.png") end,
    "save_png: cannot write /nonexistent-dir/x.png: No such file or directory")
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
  check.raises(function() a2:save(tmp(".gif")) end, "save_gif: frame 2 is 9x9, frame 1 is 8x8")
end)

-- Files written by PIL's encoders (tests/fixtures/make_images.py): one 13 x 11
-- picture in every format image.load reads, and a PNG of the same pixels.
local IMG = check.dir .. "/fixtures/images/"
local FORMATS = { "rgb.ppm", "grey.pgm", "rgb.bmp", "pal.bmp", "rgb.tga", "rgb_rle.tga", "pal_rle.tga", "pal.gif",
                  "rgb.jpg", "rgb_progressive.jpg" }

local function rgb3(t) return t:size(1) == 4 and t:narrow(1, 1, 3) or t end -- stb gives GIFs an alpha channel

test("image.load reads PNM, BMP, TGA (plain and run-length), GIF and JPEG files as PIL wrote them", function()
  local ref = { rgb = assert(image.load(IMG .. "rgb.png")), grey = assert(image.load(IMG .. "grey.png")) }
  check.shape(ref.rgb, { 3, 11, 13 })
  check.near(ref.rgb[1][11][13]:item(), 12 * 19 / 255, 1e-6) -- red = 19 x, green = 23 y
  check.near(ref.rgb[2][11][13]:item(), 10 * 23 / 255, 1e-6)
  for _, name in ipairs(FORMATS) do
    local t = rgb3(assert(image.load(IMG .. name)))
    local want = name:match("^grey") and ref.grey or ref.rgb
    check.shape(t, want:size())
    local err = (t - want):abs():mean():item()
    if name:match("jpg$") then
      check.truthy(err < 0.02, name .. ": mean error " .. err) -- lossy
    else
      check.eq(err, 0, name)
    end
  end
end)

test("image.load refuses a file cut short anywhere rather than decoding missing pixels", function()
  -- stb_image 2.27 alone decodes nearly every prefix of these files without
  -- an error: PNM and plain TGA into memory it never fills, BMP, run-length
  -- TGA and GIF with zeros for the missing part, a cut PNM header as an
  -- empty image. A prefix may load only if all its pixels are there (a
  -- TGA's footer, a BMP's last row padding, a GIF's trailer may be cut).
  local path = tmp(".img")
  local refused = 0
  for _, name in ipairs(FORMATS) do
    local bytes = read_bytes(IMG .. name)
    local full = rgb3(assert(image.load(IMG .. name)))
    for n = 1, #bytes - 1 do
      local f = assert(io.open(path, "wb"))
      f:write(bytes:sub(1, n))
      f:close()
      local t, err = image.load(path)
      if t then
        t = rgb3(t)
        check.truthy(t:size(2) == full:size(2) and t:size(3) == full:size(3) and (t - full):abs():max():item() == 0,
          string.format("%s cut to %d bytes decodes to different pixels", name, n))
      else
        check.truthy(err:find(path, 1, true), err)
        refused = refused + 1
      end
    end
  end
  check.truthy(refused > 4000, refused)
  local f = assert(io.open(path, "wb"))
  f:write(read_bytes(IMG .. "rgb.ppm"):sub(1, 300))
  f:close()
  local t, err = image.load(path)
  check.truthy(not t and err:find("truncated PNM file (429 bytes of pixels declared, 287 present)", 1, true), err)
  f = assert(io.open(path, "wb"))
  f:write("P6\n13 ")
  f:close()
  t, err = image.load(path)
  check.truthy(not t and err:find("no pixels", 1, true), err)
  -- a 26-byte run-length TGA declaring 2610 x 16512 pixels (found by libFuzzer)
  f = assert(io.open(path, "wb"))
  f:write("\0\0\10\0\0\0\0\0\0\0\0\0\50\10\128\64\24\0\200\1\2\3\4\5\6\7")
  f:close()
  t, err = image.load(path)
  check.truthy(not t and err:find("truncated TGA file (its run-length data ends after 73 of 43096320 pixels)", 1,
    true), err)
  os.remove(path)
end)

test("image.resize: whole pixels are copied, a linear ramp stays linear, a centre crop keeps the aspect", function()
  local t = assert(image.load(IMG .. "rgb.png"))
  check.eq((image.resize(t, 11, 13) - t):abs():max():item(), 0)
  check.eq((image.resize(t, 11, 11, { crop = "center" }) - t:narrow(3, 2, 11)):abs():max():item(), 0)
  -- halving a ramp sampled at pixel centres: away from the clamped edges,
  -- each output pixel holds the ramp's value at its own centre
  local ramp = tensor.arange(0, 16):add(0.5):div(16):reshape(1, 1, 16):expand(1, 4, 16):contiguous()
  local half = image.resize(ramp, 2, 8)
  check.shape(half, { 1, 2, 8 })
  for j = 3, 6 do check.near(half[1][1][j]:item(), (j - 0.5) / 8, 1e-6) end
  check.eq(image.resize(tensor.full({ 2, 7, 9 }, 0.3), 3, 20):sub(0.3):abs():max():item() < 1e-6, true)
  -- a 10 x 20 image, 1 but for its outer columns: the centre crop never
  -- reaches them, the whole image squeezed to 5 x 5 does
  local img = tensor.cat({ tensor.zeros(3, 10, 1), tensor.ones(3, 10, 18), tensor.zeros(3, 10, 1) }, 3)
  check.eq(image.resize(img, 5, 5, { crop = "center" }):min():item(), 1)
  check.truthy(image.resize(img, 5, 5):min():item() < 0.99)
  -- a 2-D image stays 2-D; values stay within the input's range (cubic filters overshoot)
  local step = tensor.cat({ tensor.zeros(8, 4), tensor.ones(8, 4) }, 2)
  local up = image.resize(step, 8, 32)
  check.shape(up, { 8, 32 })
  check.eq(up:min():item(), 0)
  check.eq(up:max():item(), 1)
  check.truthy(up[1][16]:item() > 0 and up[1][16]:item() < 1) -- the edge is interpolated
  check.raises(function() image.resize(t, 0, 4) end, "image.resize: argument 2 (height) must be an integer in 1..65536")
  check.raises(function() image.resize(t, 4, 4, { crop = "left" }) end, "option crop: expected one of \"center\"")
  check.raises(function() image.resize(tensor.ones(1, 1, 2, 2), 4, 4) end, "expected a C x H x W or H x W image")
end)

test("data.image_folder: ImageFolder's classes, sorted files, resized and scaled images, errors naming the file", function()
  local root = os.tmpname()
  os.remove(root)
  assert(sys.mkdir(root .. "/zebra/deeper"))
  assert(sys.mkdir(root .. "/ant"))
  assert(sys.mkdir(root .. "/.thumbs"))
  local function put(src, dst)
    local f = assert(io.open(root .. "/" .. dst, "wb"))
    f:write(read_bytes(IMG .. src))
    f:close()
  end
  put("rgb.png", "zebra/b.png")
  put("rgb.bmp", "zebra/deeper/a.BMP")
  put("rgb.ppm", "ant/x.ppm")
  put("rgb.tga", "top.tga")
  put("rgb.png", ".hidden.png")
  put("rgb.png", ".thumbs/t.png")
  put("rgb.png", "zebra/notes.txt")
  local ds = data.image_folder { dir = root, size = { 11, 13 } }
  check.eq(table.concat(ds.classes, " "), ". ant zebra")
  check.eq(table.concat(ds.files, " "), "ant/x.ppm top.tga zebra/b.png zebra/deeper/a.BMP")
  check.allclose(ds.labels, { 2, 1, 3, 3 }, 0)
  check.shape(ds.x, { 4, 3, 11, 13 })
  local want = assert(image.load(IMG .. "rgb.png")) * 2 - 1 -- every file holds these pixels
  for i = 1, 4 do check.allclose(ds.x[i], want, 1e-6) end
  local unit = data.image_folder { dir = root, size = 7, channels = 1, range = "unit", limit = 2 }
  check.shape(unit.x, { 2, 1, 7, 7 })
  check.eq(table.concat(unit.files, " "), "ant/x.ppm top.tga")
  check.truthy(unit.x:min():item() >= 0 and unit.x:max():item() <= 1)
  local grey = image.resize(assert(image.load(IMG .. "rgb.png", 1)), 7, 7, { crop = "center" })
  check.allclose(unit.x[1], grey:unsqueeze(1), 1e-6)
  local n = 0
  for x, y in ds:batches(3) do n = n + x:size(1); check.eq(y:size(1), x:size(1)) end
  check.eq(n, 4)
  -- a file cut short stops the load and is named
  local f = assert(io.open(root .. "/ant/y.ppm", "wb"))
  f:write(read_bytes(IMG .. "rgb.ppm"):sub(1, 100))
  f:close()
  check.raises(function() data.image_folder { dir = root, size = 8 } end, "ant/y.ppm: truncated PNM file")
  check.raises(function() data.image_folder { dir = root .. "/none", size = 8 } end, "data.image_folder: cannot read")
  check.raises(function() data.image_folder { dir = root .. "/.thumbs/..", size = 0 } end, "option size: expected an integer >= 1")
  check.raises(function() data.image_folder { size = 8 } end, "option dir (the folder) is required")
  check.raises(function() data.image_folder { dir = root, size = 8, channels = 2 } end, "option channels: expected one of 1, 3, got 2")
  os.execute("ln -s .. '" .. root .. "/ant/loop'") -- a symbolic link to its parent
  check.raises(function() data.image_folder { dir = root, size = 8 } end, "more than 32 folders deep (a symbolic link loop?)")
  os.remove(root .. "/ant/loop")
  assert(sys.mkdir(root .. "/empty"))
  check.raises(function() data.image_folder { dir = root .. "/empty", size = 8 } end, "no image files under")
  os.execute("rm -rf '" .. root .. "'")
end)
