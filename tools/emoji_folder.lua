-- tools/emoji_folder.lua SRC OUT — a folder of real colour images in the
-- torchvision ImageFolder layout, from the npm package
-- emoji-datasource-google (16.0.0): SRC is the unpacked package (its
-- emoji.json and img/google/64/*.png, 64 x 64 RGBA), OUT gets
-- OUT/<category>/<short name>.png, 64 x 64 RGB. Run by `make data`
-- (tools/fetch_emoji.sh) with ./ganlua.
--
-- Choices, fixed here: every image the package has for Google (1911 emoji
-- and 1875 skin-tone variations, 3786 files) is kept; the category is
-- emoji.json's (a skin-tone variation takes its emoji's), written as a
-- folder name in lower case with runs of other characters as "-" ("Food &
-- Drink" -> food-drink); the file is the emoji's short name, a variation's
-- followed by "_" and its skin-tone code ("santa_1f3fb.png"); alpha is
-- composited onto white (straight alpha: rgb * a + 1 * (1 - a)), as a
-- browser shows an emoji on a white page. The folder is written under
-- OUT.partial and renamed to OUT when every image has been converted, so a
-- malformed input (a bad emoji.json, a missing category, a missing or
-- non-PNG image, a clash of names) stops with what was wrong and leaves
-- no OUT behind.
local src, out = arg[1], arg[2]
if not src or not out or src == "" or out == "" then
  io.stderr:write("usage: ganlua tools/emoji_folder.lua PACKAGE_DIR OUT_DIR\n")
  os.exit(2)
end
local stage = out .. ".partial"

local function fail(fmt, ...)
  os.execute("rm -rf '" .. stage:gsub("'", "'\\''") .. "'")
  io.stderr:write("emoji_folder: " .. string.format(fmt, ...) .. "\n")
  os.exit(1)
end

if sys.listdir(out) then fail("%s exists; remove it first", out) end
local jpath = src .. "/emoji.json"
local f = io.open(jpath, "rb")
if not f then fail("%s: missing (is %s the unpacked emoji-datasource-google package?)", jpath, src) end
local ok, list = pcall(json.decode, f:read("a"))
f:close()
if not ok then fail("%s: %s", jpath, tostring(list)) end
if type(list) ~= "table" or #list == 0 then fail("%s: expected a non-empty array of emoji", jpath) end

local function slug(s) return (s:lower():gsub("[^%w]+", "-"):gsub("^%-", ""):gsub("%-$", "")) end

-- jobs[i] = {image = file in img/google/64, dir = category folder, name = file name}
local jobs, taken = {}, {}
local function add(where, image, category, name)
  if type(image) ~= "string" or not image:match("^[%w%-]+%.png$") then
    fail("%s: %s has no image file name", jpath, where)
  end
  local key = category .. "/" .. name
  if taken[key] then fail("%s: %s and %s would both be %s.png", jpath, taken[key], where, key) end
  taken[key] = where
  jobs[#jobs + 1] = { image = image, dir = category, name = name }
end
for i, e in ipairs(list) do
  local where = string.format("entry %d (%s)", i, type(e) == "table" and tostring(e.short_name) or "?")
  if type(e) ~= "table" then fail("%s: entry %d is a %s, not an object", jpath, i, type(e)) end
  if type(e.category) ~= "string" or slug(e.category) == "" then fail("%s: %s has no category", jpath, where) end
  if type(e.short_name) ~= "string" or not e.short_name:match("^[%w_%-+]+$") then
    fail("%s: %s has no usable short_name", jpath, where)
  end
  local category = slug(e.category)
  if e.has_img_google == true then add(where, e.image, category, e.short_name) end
  if type(e.skin_variations) == "table" then
    for tone, v in pairs(e.skin_variations) do
      if type(v) == "table" and v.has_img_google == true then
        add(where .. " skin tone " .. tostring(tone), v.image, category, e.short_name .. "_" .. tostring(tone):lower())
      end
    end
  end
end
if #jobs == 0 then fail("%s: no emoji has a Google image", jpath) end
table.sort(jobs, function(a, b) return a.dir .. "/" .. a.name < b.dir .. "/" .. b.name end)

os.execute("rm -rf '" .. stage:gsub("'", "'\\''") .. "'")
sys.mkdir(stage)
local counts, white = {}, nil
for _, j in ipairs(jobs) do
  local path = src .. "/img/google/64/" .. j.image
  local img, err = image.load(path, 4)
  if not img then fail("%s", err) end
  if img:size(2) ~= 64 or img:size(3) ~= 64 then
    fail("%s: %d x %d, expected 64 x 64", path, img:size(2), img:size(3))
  end
  white = white or tensor.ones(3, 64, 64)
  local a = img:narrow(1, 4, 1)
  local rgb = img:narrow(1, 1, 3) * a + white * (1 - a)
  if not counts[j.dir] then
    sys.mkdir(stage .. "/" .. j.dir)
    counts[j.dir] = 0
  end
  local okw, werr = pcall(image.save, rgb, stage .. "/" .. j.dir .. "/" .. j.name .. ".png")
  if not okw then fail("%s", tostring(werr)) end
  counts[j.dir] = counts[j.dir] + 1
end
local renamed, rerr = os.rename(stage, out)
if not renamed then fail("renaming %s to %s: %s", stage, out, tostring(rerr)) end
local names = {}
for d in pairs(counts) do names[#names + 1] = d end
table.sort(names)
for _, d in ipairs(names) do print(string.format("emoji_folder: %-18s %4d images", d, counts[d])) end
print(string.format("emoji_folder: %d images in %d folders under %s", #jobs, #names, out))
