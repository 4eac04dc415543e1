-- ganlua.plot: the pictures GAN researchers reason with, drawn with cairo
-- (anti-aliased lines, DejaVu Sans text) into PNG files written atomically,
-- or SVG files when the path ends in .svg (the HTML reports' charts).
--
--   plot.kde(samples, "kde.png", { centers = ds.centers, title = "vanilla" })
--   plot.scatter(samples, "points.png", { centers = ds.centers })
--   plot.lines({ { name = "D", y = d_losses }, { name = "G", y = g_losses } }, "losses.png")
--   plot.panels({ { label = "vanilla", panels = { { samples = s1, title = "epoch 33" }, ... } } }, "fig.png")
--
-- Each returns true and raises when the file cannot be written.
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local T, K = core.tensor, core.canvas

local plot = {}

-- matplotlib's tab10
local palette = {
  { 0.122, 0.467, 0.706 }, { 1.000, 0.498, 0.055 }, { 0.173, 0.627, 0.173 }, { 0.839, 0.153, 0.157 },
  { 0.580, 0.404, 0.741 }, { 0.549, 0.337, 0.294 }, { 0.890, 0.467, 0.761 }, { 0.498, 0.498, 0.498 },
  { 0.737, 0.741, 0.133 }, { 0.090, 0.745, 0.812 },
}
plot.palette = palette

local function values(v, what)
  if T.is_tensor(v) then return v:detach():reshape(-1):totable() end
  if type(v) == "table" then return v end
  argcheck.raise("plot: " .. what .. " must be a table of numbers or a Tensor")
end

local function points(s, what)
  if not T.is_tensor(s) or s:dim() ~= 2 or s:size(2) ~= 2 or s:size(1) < 1 then
    argcheck.raise(string.format("plot: %s must be an N x 2 Tensor, got %s", what,
      T.is_tensor(s) and table.concat(s:size(), "x") or argcheck.typename(s)))
  end
  s = s:detach()
  -- x - x is 0 exactly for finite x and NaN otherwise
  if (s - s):sum():item() ~= 0 then
    argcheck.raise(string.format("plot: %s hold NaN or infinite values (a diverged generator?)", what))
  end
  return s
end

-- Each plot's options, declared (argcheck.options); defaults are applied
-- where they are used, so every key starts nil.
local function limits(v)
  if not (v[1] < v[2]) then return "expected {lo, hi} with lo < hi" end
end
local function size_check(v)
  if type(v) ~= "table" or #v ~= 2 or math.type(v[1]) ~= "integer" or math.type(v[2]) ~= "integer" or v[1] < 200 or v[2] < 200
      or v[1] > 16384 or v[2] > 16384 then
    return "expected {w, h}, integers in 200..16384"
  end
end
local function centers_check(c)
  if not (c:dim() == 2 and c:size(2) == 2) then return "expected a K x 2 Tensor" end
end
local BASE = {
  title = { nil, kind = "string" }, xlabel = { nil, kind = "string" }, ylabel = { nil, kind = "string" },
  xlim = { nil, kind = "numbers", n = 2, check = limits }, ylim = { nil, kind = "numbers", n = 2, check = limits },
  size = { nil, kind = "table", check = size_check },
}
local DENSITY = { centers = { nil, kind = "tensor", check = centers_check }, cmap = { nil, kind = "string" },
                  min_std = { nil, kind = "number", min = 0 }, grid = { nil, kind = "integer", min = 2, max = 4096 } }
local function declare(name, ...)
  local spec = {}
  for _, part in ipairs { BASE, ... } do for k, v in pairs(part) do spec[k] = v end end
  return argcheck.options(name, spec)
end
local PLOT_OPTS = {
  ["plot.kde"] = declare("plot.kde", DENSITY),
  ["plot.scatter"] = declare("plot.scatter", DENSITY, { alpha = { nil, kind = "number", min = 0, max = 1 },
                                                        radius = { nil, kind = "number", positive = true } }),
  ["plot.lines"] = declare("plot.lines", { ylog = { nil, kind = "boolean" }, smooth = { 0.0, min = 0, below = 1 } }),
  ["plot.panels"] = declare("plot.panels", DENSITY, { panel = { nil, kind = "integer", min = 16, max = 2048 } }),
}

-- path and the plot's options, checked
local function plot_args(name, path, o)
  argcheck.string(name, 2, path, "path")
  return PLOT_OPTS[name]:check(o, 3)
end

-- the canvas to path (atomically; raises when it cannot be written),
-- closed either way
local function save(c, path)
  local ok, err = pcall(c.save, c, path)
  c:close()
  if not ok then error(err, 0) end
  return true
end

-- 1-2-5 ticks covering [lo, hi], about n of them
function plot.ticks(lo, hi, n)
  argcheck.number("plot.ticks", 1, lo, "lo"); argcheck.number("plot.ticks", 2, hi, "hi")
  n = n or 5
  if type(n) ~= "number" or not (n > 0) then argcheck.fail("plot.ticks", 3, "n", "a positive number", n) end
  if not (hi > lo) then return { lo }, 1 end
  local raw = (hi - lo) / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step, best = mag, math.huge
  for _, m in ipairs { 1, 2, 2.5, 5, 10 } do -- the nicest step nearest the raw one
    local d = math.abs(math.log(m * mag / raw))
    if d < best then step, best = m * mag, d end
  end
  local out = {}
  local first = math.ceil(lo / step - 1e-9) * step
  for k = 0, 1000 do
    local v = first + k * step
    if v > hi + step * 1e-9 then break end
    out[#out + 1] = math.abs(v) < step * 1e-9 and 0 or v
  end
  return out, step
end

local function tick_label(v, step)
  local decimals = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
  if step * 10 ^ decimals % 1 ~= 0 then decimals = decimals + 1 end
  if math.abs(v) >= 1e5 or (math.abs(v) > 0 and math.abs(v) < 1e-4) then return string.format("%.1e", v) end
  return string.format("%." .. decimals .. "f", v)
end

-- An axes rectangle in a canvas, mapping data to pixels.
local Axes = {}
Axes.__index = Axes

local function axes(c, x, y, w, h, xlim, ylim)
  return setmetatable({ c = c, x = x, y = y, w = w, h = h, xlim = xlim, ylim = ylim }, Axes)
end

function Axes:px(v) return self.x + (v - self.xlim[1]) / (self.xlim[2] - self.xlim[1]) * self.w end
function Axes:py(v) return self.y + self.h - (v - self.ylim[1]) / (self.ylim[2] - self.ylim[1]) * self.h end

-- frame, ticks, labels; o: {title, xlabel, ylabel, font = 11, ticks = true, ylog = false}
function Axes:frame(o)
  o = o or {}
  local c, fs = self.c, o.font or 11
  c:clip()
  c:color(0.15, 0.15, 0.15)
  c:line_width(1)
  c:rect(self.x + 0.5, self.y + 0.5, self.w, self.h)
  c:stroke()
  local xticks, yticks = o.ticks ~= false, o.ticks ~= false
  if o.xticks ~= nil then xticks = o.xticks end
  if o.yticks ~= nil then yticks = o.yticks end
  if xticks then
    local xt, xs = plot.ticks(self.xlim[1], self.xlim[2], o.nticks or 5)
    for _, v in ipairs(xt) do
      local p = math.floor(self:px(v)) + 0.5
      c:move_to(p, self.y + self.h); c:line_to(p, self.y + self.h + 4); c:stroke()
      c:text(p, self.y + self.h + 6, tick_label(v, xs), { size = fs, align = "center", valign = "top" })
    end
  end
  if yticks then
    local yt, ys = plot.ticks(self.ylim[1], self.ylim[2], o.nticks or 5)
    for _, v in ipairs(yt) do
      local p = math.floor(self:py(v)) + 0.5
      c:move_to(self.x - 4, p); c:line_to(self.x, p); c:stroke()
      local label = o.ylog and ("1e" .. tick_label(v, ys)) or tick_label(v, ys)
      c:text(self.x - 7, p, label, { size = fs, align = "right", valign = "middle" })
    end
  end
  if o.xlabel then
    c:text(self.x + self.w / 2, self.y + self.h + 10 + 2 * fs, o.xlabel, { size = fs + 1, align = "center", valign = "top" })
  end
  if o.ylabel then
    c:text(self.x - 14 - 4.2 * fs, self.y + self.h / 2, o.ylabel, { size = fs + 1, align = "center", valign = "bottom", angle = -90 })
  end
  if o.title then
    c:text(self.x + self.w / 2, self.y - 10, o.title, { size = fs + 2, bold = true, align = "center", valign = "bottom" })
  end
end

function Axes:clip() self.c:clip(self.x, self.y, self.w, self.h) end

-- a square window around the samples and centres (or the given limits)
local function limits(s, o)
  if o.xlim and o.ylim then return o.xlim, o.ylim end
  local m = s:abs():max():item()
  if o.centers then
    -- frame the true modes; a few far-off samples should not shrink them to a dot
    local c = o.centers:abs():max():item()
    m = math.min(math.max(m, c) * 1.15, c * 1.6)
  else
    m = m * 1.15
  end
  if not (m > 0) or m ~= m or m == math.huge then m = 1 end
  return o.xlim or { -m, m }, o.ylim or { -m, m }
end

local function draw_kde(ax, s, o)
  local grid = o.grid or 200
  -- kernels are kept at least 1.5 grid cells wide, so a collapsed cloud
  -- still shows (the estimate of anything wider is unchanged)
  local cell = (ax.xlim[2] - ax.xlim[1]) / grid
  local dens = K.kde2d(s, ax.xlim[1], ax.xlim[2], ax.ylim[1], ax.ylim[2], grid, grid, o.min_std or 1.5 * cell)
  ax.c:heatmap(dens, ax.x, ax.y, ax.w, ax.h, { cmap = o.cmap or "Greens" })
end

-- true mode centres: small open red circles, so a blob on a mode stays visible
local function draw_centers(ax, centers, size)
  if not centers then return end
  local c = ax.c
  ax:clip()
  c:color(0.84, 0.15, 0.16, 0.85)
  c:line_width(1.2)
  size = size or 5
  for _, p in ipairs(centers:totable()) do
    c:new_path()
    c:circle(ax:px(p[1]), ax:py(p[2]), size)
    c:stroke()
  end
  c:clip()
end

-- the canvas of a figure: recorded as vectors when path names an SVG
local function figure(w, h, path) return K.new(w, h, path:lower():match("%.svg$") and "svg" or "image") end

-- kde(samples, path [, {centers =, title =, xlim =, ylim =, size = {w, h},
-- cmap = "Greens"|"Blues"|"viridis", grid = 200}]): a filled 2-D kernel
-- density (Gaussian kernel, Scott's bandwidth as seaborn's kdeplot).
-- a figure with one square-window axes around the samples
local function sample_axes(samples, o, path)
  local s = points(samples, "samples")
  local size = o.size or { 560, 520 }
  local c = figure(size[1], size[2], path)
  local xlim, ylim = limits(s, o)
  return s, c, axes(c, 70, 40, size[1] - 100, size[2] - 95, xlim, ylim)
end

-- A frame never hides mass silently: the share of the samples s outside
-- the axes' limits, printed in the lower left corner when there are any.
local function mark_outside(ax, s, size)
  local out, n = 0, s:size(1)
  local xl, yl = ax.xlim, ax.ylim
  for _, q in ipairs(s:totable()) do
    if q[1] < xl[1] or q[1] > xl[2] or q[2] < yl[1] or q[2] > yl[2] then out = out + 1 end
  end
  if out == 0 then return end
  local share = 100 * out / n
  ax.c:color(0.7, 0.05, 0.05)
  ax.c:text(ax.x + 4, ax.y + ax.h - 4, share < 0.1 and "<0.1% outside" or string.format("%.1f%% outside", share),
    { size = size or 11, align = "left", valign = "bottom" })
end

local function finish(c, ax, o, path, s)
  draw_centers(ax, o.centers)
  ax:frame { title = o.title, xlabel = o.xlabel or "x", ylabel = o.ylabel or "y" }
  mark_outside(ax, s)
  return save(c, path)
end

function plot.kde(samples, path, o)
  o = plot_args("plot.kde", path, o)
  local s, _, ax = sample_axes(samples, o, path)
  draw_kde(ax, s, o)
  return finish(ax.c, ax, o, path, s)
end

-- scatter(samples, path [, {centers =, title =, xlim =, ylim =, size =, alpha = 0.25, radius = 1.6}])
function plot.scatter(samples, path, o)
  o = plot_args("plot.scatter", path, o)
  local s, c, ax = sample_axes(samples, o, path)
  ax:clip()
  local col = palette[1]
  c:color(col[1], col[2], col[3], o.alpha or 0.25)
  for _, p in ipairs(s:totable()) do c:circle(ax:px(p[1]), ax:py(p[2]), o.radius or 1.6) end
  c:fill()
  c:clip()
  return finish(c, ax, o, path, s)
end

-- lines(series, path [, {title, xlabel, ylabel, ylog = false, ylim =, xlim =, size =, smooth = 0}])
-- smooth = w in [0, 1): each line drawn as TensorBoard's smoothing does,
-- an exponential moving average s_k = w s_(k-1) + (1 - w) y_k over all
-- its points, debiased by 1 - w^k, with the raw values faint behind it
-- series: a list of {name =, x = (optional), y = table or Tensor, color =,
-- lo =, hi = (optional, a band drawn shaded behind the line: mean +- sd
-- over seeds, say; one value per y)}
function plot.lines(series, path, o)
  if type(series) ~= "table" or #series == 0 then argcheck.raise("plot.lines: expected a list of series") end
  o = plot_args("plot.lines", path, o)
  local data = {}
  local x0, x1, y0, y1 = math.huge, -math.huge, math.huge, -math.huge
  for i, sr in ipairs(series) do
    if type(sr) ~= "table" then
      argcheck.raise(string.format("plot.lines: series %d must be a table {name =, y =}, got %s", i, argcheck.typename(sr)))
    end
    local col = sr.color
    if (sr.name ~= nil and type(sr.name) ~= "string") or (col ~= nil and not (type(col) == "table"
        and type(col[1]) == "number" and type(col[2]) == "number" and type(col[3]) == "number")) then
      argcheck.raise(string.format("plot.lines: series %d: name must be a string and color {r, g, b}", i))
    end
    local ys = values(sr.y, "y")
    local xs = sr.x and values(sr.x, "x") or nil
    for k, v in ipairs(ys) do
      if type(v) ~= "number" or (xs and xs[k] ~= nil and type(xs[k]) ~= "number") then
        argcheck.raise(string.format("plot.lines: series %d: x and y must hold numbers, got %s at %d", i,
          argcheck.typename(type(v) ~= "number" and v or xs[k]), k))
      end
    end
    local los, his = sr.lo and values(sr.lo, "lo"), sr.hi and values(sr.hi, "hi")
    if (los == nil) ~= (his == nil) or (los and (#los ~= #ys or #his ~= #ys)) then
      argcheck.raise(string.format("plot.lines: series %d: a band needs lo and hi, one value per y (%d)", i, #ys))
    end
    local d = { name = sr.name or ("series " .. i), color = sr.color or palette[(i - 1) % #palette + 1], x = {}, y = {},
                lo = los and {}, hi = his and {} }
    local function scale(v)
      if type(v) ~= "number" then argcheck.raise(string.format("plot.lines: series %d: lo and hi must hold numbers, got %s", i, argcheck.typename(v))) end
      if o.ylog then return v > 0 and math.log(v, 10) or nil end
      return v
    end
    local function finite(v) return v and v == v and math.abs(v) ~= math.huge end
    for k, v in ipairs(ys) do
      local xv = xs and xs[k] or k
      local yv = scale(v)
      local lo, hi = los and scale(los[k]), his and scale(his[k])
      if finite(yv) and xv and (not los or (finite(lo) and finite(hi))) then
        d.x[#d.x + 1], d.y[#d.y + 1] = xv, yv
        x0, x1 = math.min(x0, xv), math.max(x1, xv)
        y0, y1 = math.min(y0, yv, lo or yv), math.max(y1, yv, hi or yv)
        if los then d.lo[#d.lo + 1], d.hi[#d.hi + 1] = lo, hi end
      end
    end
    data[i] = d
  end
  if x0 == math.huge then x0, x1, y0, y1 = 0, 1, 0, 1 end
  if x1 == x0 then x0, x1 = x0 - 1, x1 + 1 end
  if y1 == y0 then y0, y1 = y0 - 1, y1 + 1 end
  local pad = (y1 - y0) * 0.05
  local xlim, ylim = o.xlim or { x0, x1 }, o.ylim or { y0 - pad, y1 + pad }
  local size = o.size or { 720, 440 }
  local c = figure(size[1], size[2], path)
  local ax = axes(c, 80, 40, size[1] - 110, size[2] - 100, xlim, ylim)
  -- light grid at the y ticks
  c:color(0.9, 0.9, 0.9)
  c:line_width(1)
  for _, v in ipairs((plot.ticks(ylim[1], ylim[2], 5))) do
    local p = math.floor(ax:py(v)) + 0.5
    c:move_to(ax.x, p); c:line_to(ax.x + ax.w, p)
  end
  c:stroke()
  ax:clip()
  for _, d in ipairs(data) do -- bands first, under every line
    if d.lo and #d.x > 0 then
      c:color(d.color[1], d.color[2], d.color[3], 0.2)
      c:move_to(ax:px(d.x[1]), ax:py(d.hi[1]))
      for k = 2, #d.x do c:line_to(ax:px(d.x[k]), ax:py(d.hi[k])) end
      for k = #d.x, 1, -1 do c:line_to(ax:px(d.x[k]), ax:py(d.lo[k])) end
      c:fill()
    end
  end
  local function polyline(xs, ys)
    for k = 1, #xs do
      if k == 1 then c:move_to(ax:px(xs[k]), ax:py(ys[k])) else c:line_to(ax:px(xs[k]), ax:py(ys[k])) end
    end
    c:stroke()
  end
  local w = o.smooth
  for _, d in ipairs(data) do
    if w > 0 then
      c:line_width(1)
      c:color(d.color[1], d.color[2], d.color[3], 0.25)
      polyline(d.x, d.y)
      local sm, last = {}, 0
      for k, v in ipairs(d.y) do
        last = last * w + (1 - w) * v
        sm[k] = last / (1 - w ^ k)
      end
      c:line_width(1.8)
      c:color(d.color[1], d.color[2], d.color[3])
      polyline(d.x, sm)
    else
      c:line_width(1.8)
      c:color(d.color[1], d.color[2], d.color[3])
      polyline(d.x, d.y)
    end
  end
  c:clip()
  ax:frame { title = o.title, xlabel = o.xlabel, ylabel = o.ylabel and (o.ylog and o.ylabel .. " (log10)" or o.ylabel), ylog = o.ylog }
  -- legend, upper right
  local lw = 0
  for _, d in ipairs(data) do lw = math.max(lw, (c:text_size(d.name, { size = 11 }))) end
  local bx, by = ax.x + ax.w - lw - 48, ax.y + 8
  c:color(1, 1, 1, 0.85)
  c:rect(bx, by, lw + 40, #data * 18 + 8)
  c:fill()
  c:color(0.7, 0.7, 0.7)
  c:line_width(1)
  c:rect(bx + 0.5, by + 0.5, lw + 40, #data * 18 + 8)
  c:stroke()
  for i, d in ipairs(data) do
    local yy = by + 4 + (i - 0.5) * 18
    c:color(d.color[1], d.color[2], d.color[3])
    c:line_width(2.5)
    c:move_to(bx + 6, yy); c:line_to(bx + 28, yy); c:stroke()
    c:color(0.1, 0.1, 0.1)
    c:text(bx + 34, yy, d.name, { size = 11, valign = "middle" })
  end
  return save(c, path)
end

-- panels(rows, path [, {centers =, xlim =, ylim =, panel = 150, title =, cmap =}]):
-- a grid of KDE panels, one row per entry of rows ({label =, panels =
-- {{samples =, title =}, ...}}), with shared limits.
function plot.panels(rows, path, o)
  if type(rows) ~= "table" or #rows == 0 then argcheck.raise("plot.panels: expected a list of rows") end
  o = plot_args("plot.panels", path, o)
  local ncol = 0
  local all = {}
  for i, r in ipairs(rows) do
    if type(r) ~= "table" or type(r.panels) ~= "table" then
      argcheck.raise(string.format("plot.panels: row %d must be a table {label =, panels = {...}}", i))
    end
    for j, p in ipairs(r.panels) do
      if type(p) ~= "table" or (p.title ~= nil and type(p.title) ~= "string") then
        argcheck.raise(string.format("plot.panels: panel %d of row %d must be a table {samples =, title = a string}", j, i))
      end
    end
    if r.label ~= nil and type(r.label) ~= "string" then
      argcheck.raise(string.format("plot.panels: the label of row %d must be a string", i))
    end
    ncol = math.max(ncol, #r.panels)
    for _, p in ipairs(r.panels) do all[#all + 1] = points(p.samples, "panel samples") end
  end
  local xlim, ylim = o.xlim, o.ylim
  if not (xlim and ylim) then
    local m = 0
    for _, s in ipairs(all) do m = math.max(m, s:abs():max():item()) end
    if o.centers then m = math.max(m, o.centers:abs():max():item()) end
    m = math.min(m * 1.15, o.centers and o.centers:abs():max():item() * 1.6 or math.huge)
    if not (m > 0) then m = 1 end
    xlim, ylim = xlim or { -m, m }, ylim or { -m, m }
  end
  local P, gap, left, top = o.panel or 150, 10, 78, (o.title and 58 or 30)
  local W = left + ncol * (P + gap) + gap
  local H = top + #rows * (P + gap + 18) + gap + 34
  local c = figure(W, H, path)
  c:color(0.1, 0.1, 0.1)
  if o.title then c:text(W / 2, 22, o.title, { size = 15, bold = true, align = "center", valign = "middle" }) end
  for ri, r in ipairs(rows) do
    local y = top + (ri - 1) * (P + gap + 18) + 18
    c:color(0.1, 0.1, 0.1)
    local label = r.label or ""
    local lsize = math.max(7, math.min(13, P / (0.62 * math.max(1, utf8.len(label) or #label)))) -- fits beside its row
    c:text(18, y + P / 2, label, { size = lsize, bold = true, align = "center", valign = "bottom", angle = -90 })
    for ci, p in ipairs(r.panels) do
      local x = left + gap + (ci - 1) * (P + gap)
      local ax = axes(c, x, y, P, P, xlim, ylim)
      local cell = (xlim[2] - xlim[1]) / 120
      local s = points(p.samples, "panel samples")
      draw_kde(ax, s, { grid = 120, cmap = o.cmap, min_std = 2.5 * cell })
      draw_centers(ax, o.centers, 4)
      ax:frame { font = 8, nticks = 3, xticks = ri == #rows, yticks = ci == 1, xlabel = ri == #rows and (o.xlabel or "x") or nil,
                 ylabel = ci == 1 and (o.ylabel or "y") or nil }
      mark_outside(ax, s, 9)
      if p.title then
        c:color(0.1, 0.1, 0.1)
        c:text(x + P / 2, y - 5, p.title, { size = 10, align = "center", valign = "bottom" })
      end
    end
  end
  return save(c, path)
end

-- a 1-D kernel density (Scott's rule) at the points of grid
function plot.kde1d(values_t, grid)
  argcheck.tensor("plot.kde1d", 1, values_t, "values"); argcheck.tensor("plot.kde1d", 2, grid, "grid")
  return (K.kde1d(values_t, grid))
end

return plot
