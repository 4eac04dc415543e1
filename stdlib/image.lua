-- ganlua.image: sample grids and animations.
--   image.save_grid(G(z), "samples.png", { nrow = 5, normalize = true })
--   local anim = image.animation(); anim:add(G(z_fixed)); anim:save("run.gif")
-- save_grid behaves like torchvision.utils.save_image (nrow, padding,
-- normalize, range (torchvision's value_range), scale_each, pad_value).
-- Files are written atomically; a failed write raises (pcall to handle it); load returns nil, message.
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local C, A = core.image, core.autograd

local image = {}

-- the grid of images t with options o (argument io of name); errors point
-- at the caller of the public function that calls grid
local GRID_KEYS = { nrow = { 8, min = 1 }, padding = { 2, min = 0 }, normalize = { false }, scale_each = { false },
                    pad_value = { 0.0 }, range = { nil, kind = "numbers", n = 2 } }
local GRID_OPTS = {}
for _, fn in ipairs { "image.make_grid", "image.save_grid", "image.animation", "animation:add" } do
  GRID_OPTS[fn] = argcheck.options(fn, GRID_KEYS)
end
local function grid(name, t, io, o)
  argcheck.tensor(name, 1, t, "images")
  o = GRID_OPTS[name]:check(o, io)
  return (A.no_grad(C.make_grid, t:detach(), o))
end

function image.make_grid(t, o) return (grid("image.make_grid", t, 2, o)) end

function image.save_grid(t, path, o)
  argcheck.string("image.save_grid", 2, path, "path")
  return C.write_png(path, grid("image.save_grid", t, 3, o))
end

-- image.save(t, path): a C x H x W (or H x W) tensor in [0, 1]
function image.save(t, path)
  argcheck.tensor("image.save", 1, t, "image")
  argcheck.string("image.save", 2, path, "path")
  if t:dim() == 2 then t = t:unsqueeze(1) end
  return C.write_png(path, t:clamp(0, 1))
end

-- image.load(path [, channels]) -> C x H x W in [0, 1], or nil, message.
-- PNG, JPEG, BMP, GIF (its first frame), TGA, PNM, PSD, PIC, HDR through
-- stb_image; a file cut short is refused, not decoded with missing pixels.
image.load = C.load

local function size_arg(fn, i, v, name)
  if math.type(v) ~= "integer" or v < 1 or v > 65536 then
    argcheck.raise(string.format("%s: argument %d (%s) must be an integer in 1..65536, got %s", fn, i, name,
      math.type(v) == "integer" and tostring(v) or argcheck.typename(v)))
  end
end

-- image.resize(img, h, w [, {crop = "center"}]) -> C x h x w (or h x w):
-- img (C x H x W or H x W) resampled by stb_image_resize (a Mitchell
-- filter shrinking, Catmull-Rom enlarging), values kept within the image's
-- own range. crop = "center" first cuts the largest centred region with
-- the aspect ratio of h x w, as torchvision's Resize then CenterCrop do.
local RESIZE_OPTS = argcheck.options("image.resize", { crop = { nil, kind = "string", choices = { "center" } } })
function image.resize(img, h, w, o)
  argcheck.tensor("image.resize", 1, img, "image")
  size_arg("image.resize", 2, h, "height")
  size_arg("image.resize", 3, w, "width")
  o = RESIZE_OPTS:check(o, 4)
  if img:dim() ~= 2 and img:dim() ~= 3 then
    argcheck.raise("image.resize: expected a C x H x W or H x W image, got " .. table.concat(img:size(), "x"))
  end
  local x0, y0, x1, y1 = 0, 0, 1, 1
  if o.crop == "center" then
    local r = (w / h) / (img:size(-1) / img:size(-2)) -- the kept fraction of the width (r < 1) or height
    if r < 1 then
      x0, x1 = (1 - r) / 2, (1 + r) / 2
    else
      y0, y1 = (1 - 1 / r) / 2, (1 + 1 / r) / 2
    end
  end
  return (C.resize(img:detach(), h, w, x0, y0, x1, y1))
end

-- An animation of grids over training, saved as a looping GIF.
local Animation = {}
Animation.__index = Animation

function image.animation(o)
  if o ~= nil then GRID_OPTS["image.animation"]:check(o, 1) end
  return setmetatable({ frames = {}, opts = o }, Animation)
end

-- add(images [, grid opts]): a batch of images becomes one grid frame
function Animation:add(t, o)
  self.frames[#self.frames + 1] = grid("animation:add", t, 2, o or self.opts)
  return #self.frames
end

-- save(path [, {delay = 0.1 seconds, loop = true}])
local SAVE_GIF_OPTS = argcheck.options("animation:save", { delay = { 0.1, min = 0, max = 655.35 }, loop = { true } })
function Animation:save(path, o)
  argcheck.string("animation:save", 1, path, "path")
  o = SAVE_GIF_OPTS:check(o, 2)
  return C.write_gif(path, self.frames, math.floor(o.delay * 100 + 0.5), o.loop)
end

return image
