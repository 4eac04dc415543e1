-- ganlua.image: sample grids and animations.
--   image.save_grid(G(z), "samples.png", { nrow = 5, normalize = true })
--   local anim = image.animation(); anim:add(G(z_fixed)); anim:save("run.gif")
-- save_grid behaves like torchvision.utils.save_image (nrow, padding,
-- normalize, range (torchvision's value_range), scale_each, pad_value).
-- Files are written atomically; failures return nil, message.
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local C, A = core.image, core.autograd

local image = {}

-- the grid of images t with options o (argument io of name); errors point
-- at the caller of the public function that calls grid
local function grid(name, t, io, o)
  argcheck.tensor(name, 1, t, "images", 3)
  argcheck.opts(name, io, o, 3)
  return (argcheck.call(3, A.no_grad, C.make_grid, t:detach(), o))
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

-- image.load(path [, channels]) -> C x H x W in [0, 1], or nil, message
image.load = C.load

-- An animation of grids over training, saved as a looping GIF.
local Animation = {}
Animation.__index = Animation

function image.animation(o)
  return setmetatable({ frames = {}, opts = argcheck.opts("image.animation", 1, o) }, Animation)
end

-- add(images [, grid opts]): a batch of images becomes one grid frame
function Animation:add(t, o)
  self.frames[#self.frames + 1] = grid("animation:add", t, 2, o or self.opts)
  return #self.frames
end

-- save(path [, {delay = 0.1 seconds, loop = true}])
function Animation:save(path, o)
  argcheck.string("animation:save", 1, path, "path")
  o = argcheck.opts("animation:save", 2, o)
  local d = o.delay or 0.1
  if type(d) ~= "number" or not (d >= 0 and d <= 655.35) then
    error("animation:save: delay must be a number of seconds in 0..655.35, got " .. tostring(d), 2)
  end
  return C.write_gif(path, self.frames, math.floor(d * 100 + 0.5), o.loop ~= false)
end

return image
