-- tools/emoji_folder.lua (emoji-datasource-google's emoji.json + RGBA PNGs
-- to an ImageFolder of RGB images on white) on a small package the test
-- writes, good and malformed, and data.image_folder reading the result;
-- the real folder when `make data` has built it.
local tmpdir = check.tmpdir

local write = check.write

-- a package with three emoji in two categories, one with two skin tones
-- (one of them without a Google image); PNGs 64 x 64 RGBA whose left half
-- is opaque (r, g, b) and right half transparent
local ENTRIES = {
  { name = "ramen", image = "1f35c.png", category = "Food & Drink", rgb = { 1, 0, 0 } },
  { name = "apple", image = "1f34e.png", category = "Food & Drink", rgb = { 0, 1, 0 } },
  { name = "santa", image = "1f385.png", category = "People & Body", rgb = { 0, 0, 1 },
    skins = { { "1F3FB", "1f385-1f3fb.png", true }, { "1F3FF", "1f385-1f3ff.png", false } } },
}
local function png(path, rgb)
  local left = tensor.ones(4, 64, 32)
  for c = 1, 3 do left[c]:fill_(rgb[c]) end
  image.save(tensor.cat({ left, tensor.zeros(4, 64, 32) }, 3), path)
end
local function package(dir)
  assert(os.execute("mkdir -p '" .. dir .. "/img/google/64'"))
  local items = {}
  for _, e in ipairs(ENTRIES) do
    local skins = {}
    for _, s in ipairs(e.skins or {}) do
      skins[#skins + 1] = string.format('"%s": {"image": "%s", "has_img_google": %s}', s[1], s[2], tostring(s[3]))
      if s[3] then png(dir .. "/img/google/64/" .. s[2], e.rgb) end
    end
    items[#items + 1] = string.format('{"short_name": "%s", "image": "%s", "category": "%s", "has_img_google": true%s}',
      e.name, e.image, e.category, #skins > 0 and (', "skin_variations": {' .. table.concat(skins, ", ") .. "}") or "")
    png(dir .. "/img/google/64/" .. e.image, e.rgb)
  end
  write(dir .. "/emoji.json", "[" .. table.concat(items, ",\n") .. "]")
end

local function convert(src, out) return check.run(string.format("tools/emoji_folder.lua '%s' '%s'", src, out)) end

test("emoji_folder.lua: categories as folders, short names, alpha on white", function()
  local src, d = tmpdir(), tmpdir()
  package(src)
  local out = d .. "/emoji"
  local text, rc = convert(src, out)
  check.eq(rc, 0, text)
  check.truthy(text:find("4 images in 2 folders", 1, true), text)
  local img = assert(image.load(out .. "/food-drink/ramen.png"))
  check.shape(img, { 3, 64, 64 })
  check.allclose(img[1][10]:narrow(1, 1, 32), tensor.ones(32)) -- opaque red
  check.allclose(img[2][10]:narrow(1, 1, 32), tensor.zeros(32))
  check.allclose(img[2][10]:narrow(1, 33, 32), tensor.ones(32)) -- transparent -> white
  check.truthy(io.open(out .. "/people-body/santa_1f3fb.png", "rb"), "the skin tone with an image")
  check.eq(io.open(out .. "/people-body/santa_1f3ff.png", "rb"), nil, "the one without none")
  check.eq(sys.listdir(out .. ".partial"), nil, "the staging folder is gone")
  local ds = data.image_folder { dir = out, size = 32 }
  check.shape(ds.x, { 4, 3, 32, 32 })
  check.eq(#ds.classes, 2)
  check.eq(ds.classes[1], "food-drink")
  os.execute("rm -rf '" .. src .. "' '" .. d .. "'")
end)

test("emoji_folder.lua: malformed packages name what is wrong and leave no folder", function()
  local function case(mutate, pattern)
    local src, d = tmpdir(), tmpdir()
    package(src)
    mutate(src)
    local text, rc = convert(src, d .. "/emoji")
    check.eq(rc, 1, text)
    check.truthy(text:find(pattern), string.format("expected %q in: %s", pattern, text))
    check.eq(sys.listdir(d .. "/emoji"), nil, "no output folder")
    check.eq(sys.listdir(d .. "/emoji.partial"), nil, "no staging folder")
    os.execute("rm -rf '" .. src .. "' '" .. d .. "'")
  end
  case(function(s) -- truncated JSON
    local f = assert(io.open(s .. "/emoji.json", "rb")); local t = f:read("a"); f:close()
    write(s .. "/emoji.json", t:sub(1, 60))
  end, "emoji%.json: ")
  case(function(s) os.remove(s .. "/emoji.json") end, "emoji%.json: missing")
  case(function(s) -- a missing category
    local f = assert(io.open(s .. "/emoji.json", "rb")); local t = f:read("a"); f:close()
    write(s .. "/emoji.json", (t:gsub('"category": "Food & Drink", "has_img_google": true}', '"has_img_google": true}', 1)))
  end, "entry 1 %(ramen%) has no category")
  case(function(s) write(s .. "/img/google/64/1f34e.png", "GIF89a not a png at all") end, "1f34e%.png")
  case(function(s) os.remove(s .. "/img/google/64/1f385.png") end, "1f385%.png")
  case(function(s) -- a clash of names
    local f = assert(io.open(s .. "/emoji.json", "rb")); local t = f:read("a"); f:close()
    write(s .. "/emoji.json", (t:gsub('"short_name": "apple"', '"short_name": "ramen"')))
  end, "would both be food%-drink/ramen%.png")
  case(function(s) -- an image of another size
    local img = tensor.ones(4, 32, 32)
    image.save(img, s .. "/img/google/64/1f35c.png")
  end, "1f35c%.png: 32 x 32, expected 64 x 64")
end)

test("emoji_folder.lua: an existing output folder is refused, not overwritten", function()
  local src, d = tmpdir(), tmpdir()
  package(src)
  local text, rc = convert(src, d)
  check.eq(rc, 1, text)
  check.truthy(text:find("exists; remove it first", 1, true), text)
  os.execute("rm -rf '" .. src .. "' '" .. d .. "'")
end)

local real = (os.getenv("GANLUA_DATA") or "data") .. "/emoji"
if io.open(real .. "/.complete", "rb") then
  test("data.image_folder reads the fetched emoji: 3786 RGB images in 10 classes", function()
    local ds = data.image_folder { dir = real, size = 32 }
    check.shape(ds.x, { 3786, 3, 32, 32 })
    check.eq(#ds.classes, 10)
    check.near(ds.x:max():item(), 1, 1e-6)
  end)
end
