-- Plots: the KDE against Scott's rule, densities that integrate to one,
-- PNG files written atomically, bad paths and inputs.
local K = require("ganlua.core").canvas

local function png_ok(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local s = f:read("a")
  f:close()
  return s:sub(1, 8) == "\137PNG\r\n\26\n" and #s > 2000
end

test("KDE bandwidth is Scott's rule: covariance * n^(-1/3)", function()
  local pts = tensor.from { { 0, 0 }, { 1, 2 }, { 2, 1 }, { 3, 5 }, { 4, 3 } }
  local K4 = K.kde_bandwidth(pts)
  -- unbiased covariance by hand
  local mx, my = 2, 11 / 5
  local cxx, cxy, cyy = 0, 0, 0
  for _, p in ipairs(pts:totable()) do
    cxx = cxx + (p[1] - mx) ^ 2; cxy = cxy + (p[1] - mx) * (p[2] - my); cyy = cyy + (p[2] - my) ^ 2
  end
  local f2 = 5 ^ (-1 / 3)
  check.near(K4[1], cxx / 4 * f2, 1e-9); check.near(K4[2], cxy / 4 * f2, 1e-9); check.near(K4[4], cyy / 4 * f2, 1e-9)
end)

test("KDE density integrates to one and peaks at the data", function()
  local pts = tensor.randn(400, 2) * 0.3 + tensor.from { { 0.5, -0.25 } }
  local W = 160
  local d = K.kde2d(pts, -3, 3, -3, 3, W, W)
  local cell = (6 / W) ^ 2
  check.near(d:sum():item() * cell, 1, 1e-3)
  local _, idx = d:reshape(-1):max(1)
  local k = math.floor(idx:item()) - 1
  local row, col = k // W, k % W
  local x, y = -3 + (col + 0.5) * 6 / W, -3 + (row + 0.5) * 6 / W
  check.truthy(math.abs(x - 0.5) < 0.15 and math.abs(y + 0.25) < 0.15, string.format("peak at %.2f, %.2f", x, y))
  -- identical samples (a collapsed generator) give a finite, non-empty picture
  local same = K.kde2d(tensor.zeros(50, 2), -1, 1, -1, 1, 50, 50)
  check.truthy(same:max():item() > 0 and same:max():item() == same:max():item())
  check.raises(function() K.kde2d(tensor.zeros(5, 3), -1, 1, -1, 1, 10, 10) end, "expected N x 2 samples")
  check.raises(function() K.kde2d(tensor.zeros(1, 2), -1, 1, -1, 1, 10, 10) end, "at least 2 samples")
end)

test("1-D KDE integrates to one", function()
  local v = tensor.randn(500)
  local grid = tensor.linspace(-6, 6, 600)
  local d = plot.kde1d(v, grid)
  check.near(d:sum():item() * 12 / 599, 1, 1e-2)
end)

test("kde, scatter, lines and panels write PNGs atomically", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sys.mkdir(dir))
  local ds = data.gaussian_ring { n = 600, normalize = true }
  check.truthy(plot.kde(ds.x, dir .. "/k.png", { centers = ds.centers, title = "t" }))
  check.truthy(plot.scatter(ds.x, dir .. "/s.png", { centers = ds.centers }))
  check.truthy(plot.lines({ { name = "a", y = { 1, 2, 3 } }, { name = "b", x = { 1, 2, 3 }, y = tensor.from { 3, 1, 2 } } },
    dir .. "/l.png", { title = "t", xlabel = "x", ylabel = "y" }))
  check.truthy(plot.lines({ { name = "a", y = { 1, 10, 100 } } }, dir .. "/log.png", { ylog = true }))
  check.truthy(plot.panels({ { label = "r", panels = { { samples = ds.x, title = "p" }, { samples = ds.x } } } },
    dir .. "/p.png", { centers = ds.centers, title = "fig" }))
  for _, f in ipairs { "k", "s", "l", "log", "p" } do check.truthy(png_ok(dir .. "/" .. f .. ".png"), f) end
  local p = io.popen("ls " .. dir)
  local listing = p:read("a")
  p:close()
  check.truthy(not listing:find("tmp", 1, true), "temporary files left: " .. listing)
  check.raises(function() plot.kde(ds.x, "/nonexistent-dir/k.png") end,
    "cannot write /nonexistent-dir/k.png: No such file or directory")
  check.raises(function() plot.kde(tensor.zeros(5, 3), dir .. "/x.png") end, "samples must be an N x 2 Tensor")
  check.raises(function() plot.lines({}, dir .. "/x.png") end, "expected a list of series")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("lines: a band (lo, hi) is shaded behind its line; a band of the wrong length is refused", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sys.mkdir(dir))
  local y, lo, hi = { 1, 2, 3, 2 }, { 0, 1, 2, 1 }, { 2, 3, 4, 3 }
  check.truthy(plot.lines({ { name = "a", y = y, lo = lo, hi = hi, color = { 1, 0, 0 } } }, dir .. "/band.png"))
  check.truthy(plot.lines({ { name = "a", y = y, color = { 1, 0, 0 } } }, dir .. "/plain.png"))
  -- red at alpha 0.2 on white is (1, 0.8, 0.8): count those pixels
  local function tinted(path)
    local img = assert(image.load(path))
    local g, b = img[2], img[3]
    return ((g - 0.8):abs():lt(0.02) * (b - 0.8):abs():lt(0.02) * img[1]:gt(0.98)):sum():item()
  end
  local band, plain = tinted(dir .. "/band.png"), tinted(dir .. "/plain.png")
  check.truthy(band > 20000, "shaded pixels: " .. band)
  check.truthy(plain < 500, "shaded pixels without a band: " .. plain)
  check.raises(function() plot.lines({ { y = y, lo = lo } }, dir .. "/x.png") end, "a band needs lo and hi, one value per y (4)")
  check.raises(function() plot.lines({ { y = y, lo = { 1 }, hi = { 2 } } }, dir .. "/x.png") end, "one value per y")
  check.raises(function() plot.lines({ { y = y, lo = { 0, 0, 0, "a" }, hi = hi } }, dir .. "/x.png") end, "lo and hi must hold numbers")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("ticks are 1-2-5 steps covering the range", function()
  local t, step = plot.ticks(-1.15, 1.15, 5)
  check.eq(step, 0.5)
  check.eq(table.concat(t, ","), "-1.0,-0.5,0,0.5,1.0")
  local t2, s2 = plot.ticks(0, 1580, 5)
  check.eq(s2, 250)
  check.eq(#t2, 7)
  local _, s3 = plot.ticks(-1.55, 1.55, 5)
  check.eq(s3, 0.5)
end)

-- smooth = w: TensorBoard's debiased moving average drawn over the faint
-- raw values. On a series alternating 0 and 1 the raw line reaches the top
-- of the axes; the smoothed one stays in the middle, so the fully red
-- pixels near the top (the raw line is drawn at alpha 0.25) nearly vanish.
test("lines: smooth draws the moving average over faint raw values", function()
  local dir = check.tmpdir()
  local y = {}
  for k = 1, 200 do y[k] = k % 2 end
  local function red_near_top(o)
    assert(plot.lines({ { name = "loss", y = y, color = { 1, 0, 0 } } }, dir .. "/s.png", o))
    local img = assert(image.load(dir .. "/s.png"))
    local top = img:narrow(2, 40, 60)
    return (top[1]:gt(0.9) * top[2]:lt(0.25) * top[3]:lt(0.25)):sum():item()
  end
  local raw, smooth = red_near_top({}), red_near_top({ smooth = 0.9 })
  check.truthy(raw > 300, "raw red pixels near the top: " .. raw)
  check.truthy(smooth < raw / 10, string.format("smoothed %d vs raw %d", smooth, raw))
  check.raises(function() plot.lines({ { y = y } }, dir .. "/s.png", { smooth = 1 }) end, "option smooth")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("an SVG canvas: plot.lines to .svg is an SVG document in pixels; an SVG canvas saves only as .svg, an image canvas never", function()
  local dir = check.tmpdir()
  local series = { { name = "a", x = { 1, 2, 3 }, y = { 3, 1, 2 } }, { name = "b", x = { 1, 3 }, y = { 0, 4 } } }
  plot.lines(series, dir .. "/c.svg", { title = "t", xlabel = "step", ylabel = "loss", size = { 400, 300 } })
  local f = assert(io.open(dir .. "/c.svg", "rb")); local s = f:read("a"); f:close()
  check.truthy(s:match("^<%?xml") and s:find("<svg", 1, true) and s:find("</svg>%s*$"), s:sub(1, 80))
  check.truthy(s:find('width="400px" height="300px"', 1, true), s:match("<svg[^>]*>"))
  check.truthy(s:find("<path", 1, true), "the curves are paths")
  local c = K.new(300, 200, "svg")
  c:color(1, 0, 0); c:move_to(10, 10); c:line_to(290, 190); c:line_width(8); c:stroke()
  check.raises(function() c:save(dir .. "/d.png") end, "an SVG canvas saves to a path ending in .svg")
  check.truthy(not io.open(dir .. "/d.png"), "nothing written")
  c:save(dir .. "/d.svg")
  c:save(dir .. "/d2.svg") -- the same document again
  local a, b = io.open(dir .. "/d.svg", "rb"), io.open(dir .. "/d2.svg", "rb")
  check.eq(a:read("a"), b:read("a")); a:close(); b:close()
  check.raises(function() c:move_to(1, 1) end, "saved as SVG")
  c:close()
  local im = K.new(50, 50)
  check.raises(function() im:save(dir .. "/e.svg") end, 'an SVG needs a canvas made with kind "svg"')
  check.truthy(not io.open(dir .. "/e.svg"), "nothing written")
  check.raises(function() K.new(50, 50, "pdf") end, "invalid option 'pdf'")
  os.execute("rm -rf '" .. dir .. "'")
end)
