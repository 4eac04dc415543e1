-- ganlua.image: sample grids and animations.
--   image.save_grid(G(z), "samples.png", { nrow = 5, normalize = true })
--   local anim = image.animation(); anim:add(G(z_fixed)); anim:save("run.gif")
-- save_grid behaves like torchvision.utils.save_image (nrow, padding,
-- normalize, range (torchvision's value_range), scale_each, pad_value).
-- Files are written atomically; failures return nil, message.
local core = require "ganlua.core"
local C, A = core.image, core.autograd

local image = {}

image.make_grid = function(t, o) return A.no_grad(function() return C.make_grid(t:detach(), o) end) end

function image.save_grid(t, path, o)
  return C.write_png(path, image.make_grid(t, o))
end

-- image.save(t, path): a C x H x W (or H x W) tensor in [0, 1]
function image.save(t, path)
  if t:dim() == 2 then t = t:unsqueeze(1) end
  return C.write_png(path, t:clamp(0, 1))
end

-- image.load(path [, channels]) -> C x H x W in [0, 1], or nil, message
image.load = C.load

-- An animation of grids over training, saved as a looping GIF.
local Animation = {}
Animation.__index = Animation

function image.animation(o)
  return setmetatable({ frames = {}, opts = o or {} }, Animation)
end

-- add(images [, grid opts]): a batch of images becomes one grid frame
function Animation:add(t, o)
  self.frames[#self.frames + 1] = image.make_grid(t, o or self.opts)
  return #self.frames
end

-- save(path [, {delay = 0.1 seconds, loop = true}])
function Animation:save(path, o)
  o = o or {}
  local delay = math.floor((o.delay or 0.1) * 100 + 0.5)
  return C.write_gif(path, self.frames, delay, o.loop ~= false)
end

return image
