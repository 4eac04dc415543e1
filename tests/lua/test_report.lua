-- report: the HTML page of a run and the page comparing runs. The pages
-- are parsed (every tag closed in order), every file they reference must
-- exist, nothing may come from a network, the live page reloads itself and
-- a finished one does not, bad run directories give errors naming what is
-- wrong, `ganlua report` works as a command, and Debian's headless
-- Chromium renders both kinds of page (not blank, scripts ran).

local slurp = check.read
local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- the HTML5 void elements (no closing tag)
local VOID = { area = true, base = true, br = true, col = true, embed = true, hr = true, img = true, input = true,
               link = true, meta = true, source = true, track = true, wbr = true }

-- parse(html) -> the tag counts; raises at the first tag closed out of
-- order, an unclosed tag, a stray "<" or an attribute with an open quote
local function parse(html)
  check.truthy(html:sub(1, 15) == "<!DOCTYPE html>", "starts with the doctype")
  local stack, counts, pos = {}, {}, 16
  while true do
    local s = html:find("<", pos, true)
    if not s then break end
    local close, name = html:match("^<(/?)([%a][%w%-]*)", s)
    check.truthy(name, "a stray '<' at byte " .. s .. ": " .. html:sub(s, s + 40))
    -- the tag's end: the first '>' outside quotes
    local i, quote = s + 1, nil
    while true do
      local c = html:sub(i, i)
      check.truthy(c ~= "", "tag at byte " .. s .. " never ends")
      if quote then
        if c == quote then quote = nil end
      elseif c == '"' or c == "'" then
        quote = c
      elseif c == ">" then
        break
      end
      i = i + 1
    end
    name = name:lower()
    if close == "/" then
      local top = table.remove(stack)
      check.eq(top, name, "closing tag at byte " .. s)
    elseif not VOID[name] then
      stack[#stack + 1] = name
      counts[name] = (counts[name] or 0) + 1
      if name == "script" or name == "style" then -- raw text up to its end tag
        local e = html:find("</" .. name .. ">", i, true)
        check.truthy(e, "<" .. name .. "> is closed")
        i = e - 1
      end
    else
      counts[name] = (counts[name] or 0) + 1
    end
    pos = i + 1
  end
  check.eq(#stack, 0, "unclosed: " .. table.concat(stack, " "))
  return counts
end

local function unescape(s)
  return (s:gsub("&quot;", '"'):gsub("&#39;", "'"):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&"))
end
local function decode_uri(s) return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)) end

-- every src= and href= of a page: data: URIs and #anchors are inline,
-- the rest must be files relative to the page; nothing from a network
local function check_refs(page)
  local html = slurp(page)
  local dir = page:match("^(.*)/[^/]*$")
  local n_files, n_data = 0, 0
  for attr, v in html:gmatch('%s(%a+)="([^"]*)"') do
    if attr == "src" or attr == "href" then
      if v:match("^data:") then
        n_data = n_data + 1
      elseif v:sub(1, 1) ~= "#" then
        check.truthy(not v:match("^%a+:"), "a reference to somewhere else: " .. v)
        local path = dir .. "/" .. decode_uri(unescape(v))
        check.truthy(exists(path), "referenced file missing: " .. path)
        n_files = n_files + 1
      end
    end
  end
  -- the slider's lists of pictures are JSON strings inside the script
  for v in html:gmatch('"f":"([^"]*)"') do
    local path = dir .. "/" .. decode_uri(v:gsub("\\/", "/"))
    check.truthy(exists(path), "slider picture missing: " .. path)
  end
  -- (an inline SVG names its XML namespace by an http URI; it fetches nothing)
  local outside = html:gsub('"data:[^"]*"', '""')
  check.truthy(not outside:find("https?://") and not outside:find('src="//', 1, true) and not outside:find("@import", 1, true),
    "the page fetches nothing")
  for uri in html:gmatch('"(data:[^"]*)"') do
    local body = decode_uri(uri)
    check.truthy(not body:find("<image", 1, true) and not body:find("@import", 1, true) and not body:find("href=\"http", 1, true),
      "an inline chart refers to nothing outside")
  end
  return html, n_files, n_data
end

-- a small run made the way a script makes one: options, scalars by step
-- and epoch (one NaN), a numbered series of sample grids, a KDE figure,
-- a GIF and a summary; close() unless keep_open
local function make_run(dir, flags, keep_open)
  local script = dir:match("^(.*)/[^/]*$") .. "/" .. dir:match("[^/]*$") .. "_script.lua"
  os.execute("mkdir -p " .. q(dir:match("^(.*)/[^/]*$")))
  check.write(script, "-- a <script> & its \"copy\"\nprint('hello')\n")
  local argv = { "--out", dir }
  for _, a in ipairs(flags or {}) do argv[#argv + 1] = a end
  local opt = assert(cli.parse({ lr = 2e-4, epochs = 3, name = "a b" }, argv, script))
  local run = log.run(opt, { quiet = true })
  local anim = image.animation({ nrow = 2 })
  for step = 1, 40 do
    run:scalar("d_loss", 1 / step + opt.lr * 1000)
    run:scalar("g_loss", step == 7 and 0 / 0 or math.log(step))
    if step % 10 == 0 then
      run:scalar("acc", step / 40)
      local imgs = tensor.rand(4, 3, 8, 8)
      image.save_grid(imgs, string.format("%s/samples_%06d.png", run.dir, step), { nrow = 2 })
      anim:add(imgs)
    end
    run:step(step, { epoch = (step - 1) // 14 + 1 })
  end
  plot.kde(tensor.randn(200, 2), run.dir .. "/kde.png", { size = { 240, 240 }, grid = 40 })
  anim:save(run.dir .. "/training.gif")
  log.write_json(run.dir .. "/summary.json", { final_d_loss = 1 / 40 + opt.lr * 1000, modes = 7 })
  if not keep_open then run:close() end
  return run, script
end

test("a run's page: parsed, every scalar charted, every picture there, the script's copy, nothing from a network", function()
  local root = check.tmpdir()
  local run, script = make_run(root .. "/run")
  local page = root .. "/run/report.html"
  check.truthy(exists(page), "log's close wrote report.html")
  local html, n_files, n_data = check_refs(page)
  local tags = parse(html)
  -- one chart per scalar, as an SVG drawn by ganlua
  for _, m in ipairs { "d_loss", "g_loss", "acc" } do
    check.truthy(html:find('data-metric="' .. m .. '"', 1, true), "a chart of " .. m)
  end
  check.eq(select(2, html:gsub('class="chart"', "")), 3, "three charts")
  check.eq(n_data, 3)
  local svg = decode_uri(html:match('data%-metric="g_loss"><img src="data:image/svg%+xml;charset=utf%-8,([^"]*)"'))
  check.truthy(svg:find("<svg", 1, true) and svg:find("</svg>", 1, true), "the chart is an SVG document")
  check.truthy(html:find("39 points", 1, true), "the NaN left out of g_loss's 40")
  -- the pictures: the series' latest, a slider over its four, the KDE and the GIF
  check.truthy(html:find('src="samples_000040.png"', 1, true), "the latest grid")
  check.truthy(html:find('type="range"', 1, true) and html:find("4 pictures, steps 10 to 40", 1, true), "a slider over the series")
  check.truthy(html:find('src="kde.png"', 1, true) and html:find('src="training.gif"', 1, true), "the KDE and the GIF")
  check.eq(n_files, 5, "the latest grid, the KDE and the GIF (each an img and its link)")
  -- the header: version, start, duration, finished; the command and options
  check.truthy(html:find("ganlua " .. ganlua.version, 1, true), "the version")
  local cfg = json.decode(slurp(root .. "/run/config.json"))
  check.truthy(html:find("started " .. cfg.date, 1, true), "the start time")
  check.truthy(html:find('data-state="finished"', 1, true) and html:find(" took ", 1, true), "finished, with its duration")
  check.truthy(not html:find('http-equiv="refresh"', 1, true), "a finished page does not reload itself")
  check.truthy(html:find("ganlua " .. script .. " --out " .. root .. "/run", 1, true), "the command line")
  check.truthy(html:find("<th>lr</th><td>0.0002</td>", 1, true) and html:find("<th>name</th><td>a b</td>", 1, true), "options")
  check.truthy(html:find("<th>modes</th><td>7</td>", 1, true), "the summary")
  -- the script's copy, escaped, collapsed
  check.truthy(html:find("<details><summary>" .. script:match("[^/]*$"), 1, true), "collapsed script")
  check.truthy(html:find("-- a &lt;script&gt; &amp; its &quot;copy&quot;", 1, true), "the script's text, escaped")
  check.eq(tags.script, 1, "one script element (the page's own)")
  -- by epoch
  report.run(root .. "/run", { out = root .. "/run/by_epoch.html", x = "epoch" })
  parse(check_refs(root .. "/run/by_epoch.html"))
  os.remove(script)
  os.execute("rm -rf " .. q(root))
end)

test("a running run's page reloads itself and says running; run:report refreshes it", function()
  local root = check.tmpdir()
  local run = make_run(root .. "/live", nil, true)
  local page = run:report()
  check.eq(page, root .. "/live/report.html")
  local html = slurp(page)
  parse(html)
  check.truthy(html:find('<meta http-equiv="refresh" content="30">', 1, true), "reloads itself")
  check.truthy(html:find('data-state="running"', 1, true), "running")
  check.truthy(html:find("40 steps logged", 1, true), html:match('<div class="sub">[^\n]*'))
  run:scalar("d_loss", 0.5); run:step(41)
  run:report()
  check.truthy(slurp(page):find("41 steps logged", 1, true), "the refreshed page has the new step")
  -- run:step refreshes it after 30 s, or after 20 times the last page's
  -- making time when that is longer
  run.last_report, run.report_cost = sys.time() - 31, 10
  run:scalar("d_loss", 0.5); run:step(42)
  check.truthy(slurp(page):find("41 steps logged", 1, true), "a 10 s page waits 200 s")
  run.report_cost = 0.01
  run:scalar("d_loss", 0.5); run:step(43)
  check.truthy(slurp(page):find("43 steps logged", 1, true), "a quick page after 30 s")
  -- a run nobody closed and whose metrics are old is "stopped"
  local r2 = report.run(root .. "/live", { out = root .. "/live/r2.html" })
  check.truthy(slurp(r2):find('data-state="running"', 1, true))
  run:close()
  check.truthy(slurp(page):find('data-state="finished"', 1, true), "close writes the final page")
  local cfg = json.decode(slurp(root .. "/live/config.json"))
  cfg.finished = nil
  log.write_json(root .. "/live/config.json", cfg)
  os.execute("touch -d '1 hour ago' " .. q(root .. "/live/metrics.jsonl"))
  check.truthy(slurp(report.run(root .. "/live")):find('data-state="stopped"', 1, true), "an hour-old, unfinished run")
  os.execute("rm -rf " .. q(root))
end)

test("a comparison page: the options that differ, final metrics, a chosen metric's curves, each run's picture", function()
  local root = check.tmpdir()
  make_run(root .. "/sw/a", { "--lr", "1e-4", "--seed", "1" })
  make_run(root .. "/sw/b", { "--lr", "3e-4", "--seed", "1" })
  local out = report.compare({ root .. "/sw/a", root .. "/sw/b" }, { out = root .. "/sw/index.html", metric = "g_loss" })
  check.eq(out, root .. "/sw/index.html")
  local html = check_refs(out)
  parse(html)
  -- lr differs, seed and epochs do not; out differs but is the run's link
  local head = html:match("<thead>(.-)</thead>")
  check.truthy(head, "a table head")
  check.truthy(head:find(">lr<", 1, true), head)
  check.truthy(not head:find(">seed<", 1, true) and not head:find(">epochs<", 1, true) and not head:find(">out<", 1, true), head)
  check.truthy(head:find(">final_d_loss<", 1, true) and head:find(">modes<", 1, true), "final metrics: " .. head)
  check.truthy(html:find('class="sortable"', 1, true) and html:find('th class="sort"', 1, true), "sortable columns")
  check.truthy(html:find('href="a/report.html"', 1, true) and html:find('href="b/report.html"', 1, true), "links to the runs' pages")
  -- the metric list, the chosen one shown first
  for _, m in ipairs { "d_loss", "g_loss", "acc" } do check.truthy(html:find('<option value="' .. m .. '"', 1, true), m) end
  check.truthy(html:find('<option value="g_loss" selected>', 1, true), "g_loss chosen")
  -- each run's final picture: the last of its sample series
  check.truthy(html:find('src="a/samples_000040.png"', 1, true) and html:find('src="b/samples_000040.png"', 1, true), "final pictures")
  -- a metric nobody logged names the ones there are
  check.raises(function() report.compare({ root .. "/sw/a", root .. "/sw/b" }, { out = root .. "/x.html", metric = "d_los" }) end,
    "metric 'd_los' (they log: d_loss, g_loss, acc)")
  os.execute("rm -rf " .. q(root))
end)

test("bad run directories: an error naming what is wrong; a half-written metrics line is counted, not fatal", function()
  local root = check.tmpdir()
  check.raises(function() report.run(root .. "/nope") end, "nope: no such directory")
  os.execute("mkdir -p " .. q(root .. "/empty"))
  check.raises(function() report.run(root .. "/empty") end, "empty is not a run directory")
  make_run(root .. "/r")
  check.write(root .. "/r/metrics.jsonl", slurp(root .. "/r/metrics.jsonl") .. '{"step":41,"d_lo')
  local html = slurp(report.run(root .. "/r"))
  parse(html)
  check.truthy(html:find("1 line of metrics.jsonl could not be read", 1, true), "the torn line counted")
  check.truthy(html:find("40 steps logged", 1, true))
  check.write(root .. "/r/config.json", '{"options": {"lr": ')
  check.raises(function() report.run(root .. "/r") end, "r/config.json")
  check.raises(function() report.run(root .. "/r", { x = "time" }) end, "x")
  check.raises(function() report.compare({}) end, "list of run directories")
  os.execute("rm -rf " .. q(root))
end)

test("ganlua report: one run, a sweep directory, several runs with --out, and its mistakes", function()
  local root = check.tmpdir()
  make_run(root .. "/sw/a", { "--lr", "1e-4" })
  make_run(root .. "/sw/b", { "--lr", "3e-4" })
  os.remove(root .. "/sw/a/report.html")
  local out, rc = check.run("report " .. q(root .. "/sw/a"))
  check.eq(rc, 0, out)
  check.truthy(exists(root .. "/sw/a/report.html"), out)
  out, rc = check.run("report " .. q(root .. "/sw"))
  check.eq(rc, 0, out)
  parse(check_refs(root .. "/sw/index.html"))
  out, rc = check.run("report " .. q(root .. "/sw/a") .. " " .. q(root .. "/sw/b"))
  check.eq(rc, 2, out)
  check.truthy(out:find("needs --out DIR", 1, true), out)
  out, rc = check.run("report " .. q(root .. "/sw/a") .. " " .. q(root .. "/sw/b") .. " --out " .. q(root .. "/cmp") .. " --metric acc")
  check.eq(rc, 0, out)
  local html = check_refs(root .. "/cmp/index.html")
  parse(html)
  check.truthy(html:find('href="../sw/a/report.html"', 1, true), "links back to the runs")
  out, rc = check.run("report --metrc acc " .. q(root .. "/sw"))
  check.eq(rc, 2, out)
  check.truthy(out:find("unknown option --metrc", 1, true) and not out:find("traceback", 1, true), out)
  out, rc = check.run("report " .. q(root .. "/missing"))
  check.eq(rc, 1, out)
  check.truthy(out:find("missing: no such directory", 1, true) and not out:find("traceback", 1, true), out)
  os.execute("rm -rf " .. q(root))
end)

-- Debian's chromium, headless: the screenshot is not blank and the
-- page's script ran to its end (data-rendered="1" in the DOM it dumps)
local CHROMIUM = os.getenv("CHROMIUM") or "chromium"
local function render(page, png)
  local profile = check.tmpdir()
  local base = string.format("%s --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=%s "
    .. "--allow-file-access-from-files --virtual-time-budget=3000 ", CHROMIUM, q(profile))
  local ok = os.execute(base .. "--window-size=1200,1600 --screenshot=" .. q(png) .. " " .. q("file://" .. page) .. " >/dev/null 2>&1")
  local p = io.popen(base .. "--dump-dom " .. q("file://" .. page) .. " 2>/dev/null")
  local dom = p:read("a")
  p:close()
  os.execute("rm -rf " .. q(profile))
  return ok, dom
end
local function not_blank(png)
  local img = assert(image.load(png, 3))
  check.eq(img:size(2), 1600); check.eq(img:size(3), 1200)
  -- dark header, white panels, coloured curves: spread and many levels
  local sd = img:std():item()
  local lo, hi = img:min():item(), img:max():item()
  check.truthy(sd > 0.05 and hi - lo > 0.5, string.format("screenshot %s looks blank: sd %.3f, range %.2f..%.2f", png, sd, lo, hi))
end

test("Chromium renders a run's page and a comparison page", function()
  check.truthy(os.execute("command -v " .. CHROMIUM .. " >/dev/null 2>&1"),
    "chromium is not installed: `make test-deps` installs Debian's chromium")
  local root = check.tmpdir()
  make_run(root .. "/sw/a", { "--lr", "1e-4" })
  make_run(root .. "/sw/b", { "--lr", "3e-4" })
  local cmp = report.compare({ root .. "/sw/a", root .. "/sw/b" }, { out = root .. "/sw/index.html", metric = "d_loss" })
  for _, page in ipairs { root .. "/sw/a/report.html", cmp } do
    local png = page .. ".png"
    local ok, dom = render(page, png)
    check.truthy(ok and exists(png), "chromium made no screenshot of " .. page)
    not_blank(png)
    check.truthy(dom:find('data-rendered="1"', 1, true), "the page's script ran to its end: " .. page)
    check.truthy(dom:find("</html>", 1, true), "a whole DOM")
  end
  -- the run's badge was set by the script (finished stays finished)
  local _, dom = render(root .. "/sw/a/report.html", root .. "/a.png")
  check.truthy(dom:find('class="badge finished"', 1, true), "the badge")
  os.execute("rm -rf " .. q(root))
end)
