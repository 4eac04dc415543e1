-- ganlua.report: a run directory as one HTML page, and a page comparing runs.
--
--   report.run("runs/toy")                 -- writes runs/toy/report.html, returns its path
--   report.compare({ "runs/a", "runs/b" }, { out = "runs/cmp/index.html", metric = "d_loss" })
--   report.main(args)                      -- `ganlua report DIR... [--out DIR] [--metric NAME]`
--
-- A run page shows what log.run keeps in the directory: the command line
-- and resolved options (config.json), the ganlua version, the start time
-- and duration, every scalar of metrics.jsonl as a chart by step, the
-- sample grids (the latest, and any step chosen with a slider), the other
-- figures (KDE panels, loss curves), GIFs, the summary (summary.json) and
-- the script's own copy, collapsed. A comparison page has a table of the
-- options that differ and of the final metrics (click a column to sort),
-- one metric's curves overlaid (chosen from a list), and each run's final
-- picture.
--
-- Pages are self-contained: the charts are SVG drawn by ganlua.plot
-- (cairo), inlined as percent-encoded data: URIs; pictures are the run's own files,
-- referenced by relative paths, so a page opens from disk with no network
-- (no script, font or style is fetched). A little inline JavaScript sorts
-- the table, switches charts and says how long ago the last metric came.
-- Pages are written atomically. While a run is going its page reloads
-- itself every 30 s; it says "running" while metrics.jsonl is younger than
-- a few of its own intervals (at least two minutes), and "finished" once
-- log's run:close has recorded the end in config.json.
local core = require "ganlua.core"
local json = require "ganlua.json"
local argcheck = require "ganlua.argcheck"
local plot = require "ganlua.plot"
local S = core.sys

local report = {}

local MAX_POINTS = 2000 -- a chart's points; longer series are averaged in buckets

---------------------------------------------------------------- helpers

local function esc(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function isdir(path) return S.listdir(path) ~= nil end

local function read_json(path)
  local s = read(path)
  if not s then return nil end
  local ok, v = pcall(json.decode, s)
  if not ok then argcheck.raise(string.format("report: %s: %s", path, argcheck.strip(v))) end
  return v
end

-- an SVG document as a data: URI inside a double-quoted attribute: the
-- characters a URI or the attribute would misread percent-encoded (a
-- third the size of base64, and one gsub instead of a Lua loop)
local function svg_uri(svg)
  return "data:image/svg+xml;charset=utf-8," .. svg:gsub('[%%#"<>&\r\n\t]', function(c) return string.format("%%%02X", c:byte()) end)
end

-- absolute, normalised path (no ".", "..", "//")
local function abspath(p)
  if p:sub(1, 1) ~= "/" then p = assert(S.cwd()) .. "/" .. p end
  local parts = {}
  for seg in p:gmatch("[^/]+") do
    if seg == ".." then parts[#parts] = nil elseif seg ~= "." then parts[#parts + 1] = seg end
  end
  return "/" .. table.concat(parts, "/")
end

-- the path of file `to` seen from directory `from`, percent-encoded for
-- an src or href attribute
local function href(from, to)
  local a, b = {}, {}
  for seg in abspath(from):gmatch("[^/]+") do a[#a + 1] = seg end
  for seg in abspath(to):gmatch("[^/]+") do b[#b + 1] = seg end
  local k = 1
  while k <= #a and k < #b and a[k] == b[k] do k = k + 1 end
  local out = {}
  for _ = k, #a do out[#out + 1] = ".." end
  for i = k, #b do out[#out + 1] = (b[i]:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end)) end
  return table.concat(out, "/")
end

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function basename(p) return (p:gsub("/+$", "")):match("([^/]*)$") end

-- seconds since the epoch of an ISO 8601 UTC time "2026-12-02T19:32:47Z"
local function utc_seconds(s)
  local y, mo, d, h, mi, se = tostring(s):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return ((era * 146097 + doe - 719468) * 86400) + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
end

local function duration(s)
  if not s then return "?" end
  s = math.floor(s + 0.5)
  if s < 60 then return s .. " s" end
  if s < 3600 then return string.format("%d min %02d s", s // 60, s % 60) end
  return string.format("%d h %02d min", s // 3600, s % 3600 // 60)
end

local function fmt(v)
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v then return "NaN" end
    return string.format("%.6g", v)
  elseif type(v) == "table" then
    return json.encode(v)
  end
  return tostring(v)
end

---------------------------------------------------------------- a run

-- one metrics line as log writes it, an object of numbers and nulls with
-- plain keys, read with patterns (json.decode costs 16 us a line, which a
-- page refreshed during a 100k-step run pays every time); nil for anything
-- else, which goes to json.decode
local function flat_line(line)
  local body = line:match("^%s*{(.*)}%s*$")
  if not body or body:find('[{}%[%]\\]') then return nil end
  local t = {}
  for item in (body .. ","):gmatch("([^,]*),") do
    local k, v = item:match('^%s*"([%w_%.%-]+)"%s*:%s*([^%s]+)%s*$')
    if not k then return nil end
    if v ~= "null" then
      local x = v:match("^%-?%d+%.?%d*[eE]?[%+%-]?%d*$") and tonumber(v)
      if not x then return nil end
      t[k] = x
    end
  end
  return t
end

-- metrics.jsonl: rows in order, the scalar names in first-seen order, the
-- number of lines that could not be read (a line being written as the
-- page is made is one of them)
local function read_metrics(dir)
  local rows, names, seen, bad = {}, {}, {}, 0
  local f = io.open(dir .. "/metrics.jsonl", "rb")
  if not f then return rows, names, 0 end
  for line in f:lines() do
    if line:match("%S") then
      local v = flat_line(line)
      local ok = v ~= nil
      if not ok then ok, v = pcall(json.decode, line) end
      if ok and type(v) == "table" then
        rows[#rows + 1] = v
        for k, x in pairs(v) do
          if k ~= "step" and k ~= "epoch" and type(x) == "number" and not seen[k] then
            seen[k] = true
            names[#names + 1] = k
          end
        end
      else
        bad = bad + 1
      end
    end
  end
  f:close()
  -- first-seen order (pairs is unordered): by the first row holding each
  local first = {}
  for i, r in ipairs(rows) do for _, k in ipairs(names) do if first[k] == nil and type(r[k]) == "number" then first[k] = i end end end
  table.sort(names, function(a, b) if first[a] ~= first[b] then return first[a] < first[b] end return a < b end)
  return rows, names, bad
end

-- one metric's points, (x, y) with y finite, averaged into at most
-- MAX_POINTS buckets
local function series_of(rows, name, xkey)
  local xs, ys = {}, {}
  for i, r in ipairs(rows) do
    local y = r[name]
    if type(y) == "number" and y == y and y ~= math.huge and y ~= -math.huge then
      xs[#xs + 1] = type(r[xkey]) == "number" and r[xkey] or i
      ys[#ys + 1] = y
    end
  end
  local n = #ys
  if n <= MAX_POINTS then return xs, ys, 1 end
  local k = math.ceil(n / MAX_POINTS)
  local bx, by = {}, {}
  for i = 1, n, k do
    local sx, sy, m = 0, 0, 0
    for j = i, math.min(n, i + k - 1) do sx, sy, m = sx + xs[j], sy + ys[j], m + 1 end
    bx[#bx + 1], by[#by + 1] = sx / m, sy / m
  end
  return bx, by, k
end

-- an SVG chart as a data: URI (drawn by plot.lines into a temporary file
-- beside the page, read back and removed)
local function chart(tmp, series, o)
  local path = string.format("%s/.report-%d.svg", tmp, S.getpid())
  local ok, err = pcall(plot.lines, series, path, o)
  local svg = ok and read(path)
  os.remove(path)
  if not ok then error(err, 0) end
  return svg_uri(svg)
end

local function smooth_for(n) return n >= 200 and 0.9 or (n >= 50 and 0.6 or 0) end

-- PNG and GIF files of a run (top level and one level of subdirectories
-- that are not runs of their own), as paths relative to dir, sorted
local function pictures(dir)
  local out = {}
  local function scan(sub, depth)
    local path = sub == "" and dir or dir .. "/" .. sub
    for _, name in ipairs(S.listdir(path) or {}) do
      local rel = sub == "" and name or sub .. "/" .. name
      if name:sub(-1) == "/" then
        local d = rel:sub(1, -2)
        if depth == 0 and name:sub(1, 1) ~= "." and not read(dir .. "/" .. d .. "/config.json") then scan(d, 1) end
      elseif name:lower():match("%.png$") or name:lower():match("%.gif$") then
        out[#out + 1] = rel
      end
    end
  end
  scan("", 0)
  table.sort(out)
  return out
end

-- pictures split into numbered series (name_000500.png, epoch_12.png:
-- two or more files with the same stem and a number), single figures and GIFs
local function sort_pictures(files)
  local groups, order, singles, gifs = {}, {}, {}, {}
  for _, f in ipairs(files) do
    if f:lower():match("%.gif$") then
      gifs[#gifs + 1] = f
    else
      local stem, num = f:match("^(.-)[_%-](%d+)%.[pP][nN][gG]$")
      if stem and num then
        if not groups[stem] then groups[stem] = {}; order[#order + 1] = stem end
        table.insert(groups[stem], { step = tonumber(num), file = f })
      else
        singles[#singles + 1] = f
      end
    end
  end
  local series = {}
  for _, stem in ipairs(order) do
    local g = groups[stem]
    if #g >= 2 then
      table.sort(g, function(a, b) return a.step < b.step end)
      series[#series + 1] = { name = stem == "" and "samples" or stem, items = g }
    else
      singles[#singles + 1] = g[1].file
    end
  end
  table.sort(singles)
  return series, singles, gifs
end

-- the facts of a run directory, read once for both kinds of page
local function load_run(dir)
  if not isdir(dir) then argcheck.raise("report: " .. dir .. ": no such directory") end
  local cfg = read_json(dir .. "/config.json")
  if type(cfg) ~= "table" then argcheck.raise("report: " .. dir .. " is not a run directory (it has no config.json)") end
  local rows, names, bad = read_metrics(dir)
  local summary = read_json(dir .. "/summary.json")
  local series, singles, gifs = sort_pictures(pictures(dir))
  local last = {}
  for _, r in ipairs(rows) do for k, v in pairs(r) do if type(v) == "number" then last[k] = v end end end
  local mt = S.mtime(dir .. "/metrics.jsonl")
  return { dir = dir, name = basename(dir), cfg = cfg, rows = rows, names = names, bad = bad,
           summary = type(summary) == "table" and summary or nil, series = series, singles = singles, gifs = gifs,
           last = last, metrics_mtime = mt, start = utc_seconds(cfg.date) }
end

-- the final picture of a run: final.png, else the last of its first
-- numbered series, else its first figure
local function final_picture(r)
  for _, f in ipairs(r.singles) do if basename(f) == "final.png" then return f end end
  if r.series[1] then local it = r.series[1].items; return it[#it].file end
  return r.singles[1]
end

local STYLE = [[
body{font:14px/1.45 "DejaVu Sans",Verdana,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#22304a;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header .sub{opacity:.85;font-size:13px}
main{padding:8px 24px 40px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:16px 0;padding:10px 16px}
h2{font-size:16px;margin:4px 0 10px}
table{border-collapse:collapse;font-size:13px}
td,th{border-bottom:1px solid #e6e9ee;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#eef1f5;white-space:nowrap}
th.sort{cursor:pointer;user-select:none}
th.sort:after{content:" \2195";color:#99a}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f3f4f6;padding:8px;overflow:auto;font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.grid figure{margin:0;max-width:560px}
.grid img{max-width:100%;border:1px solid #e3e6ea;background:#fff}
figcaption{font-size:12px;color:#556}
figure img{max-width:100%}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;margin-left:8px}
.running{background:#2e9d57}.finished{background:#5a6b86}.stopped{background:#b5542f}
img.pix{image-rendering:pixelated;width:560px;max-width:100%}
]]

local STATUS_JS = [[
(function(){var b=document.getElementById('status');if(!b)return;
var t=parseFloat(b.dataset.last),st=parseFloat(b.dataset.stale);
if(b.dataset.state!=='finished'&&t>0){var age=Date.now()/1000-t;
function d(s){s=Math.round(s);return s<120?s+' s':s<7200?Math.round(s/60)+' min':Math.round(s/3600)+' h';}
if(age>st){b.className='badge stopped';b.textContent='not running: last metric '+d(age)+' ago';}
else{b.className='badge running';b.textContent='running: last metric '+d(age)+' ago';}}})();
]]

local SORT_JS = [[
document.querySelectorAll('table.sortable').forEach(function(t){
t.querySelectorAll('th.sort').forEach(function(h,i){h.addEventListener('click',function(){
var rows=Array.prototype.slice.call(t.tBodies[0].rows),asc=h.dataset.asc!=='1';h.dataset.asc=asc?'1':'0';
rows.sort(function(a,b){var x=a.cells[i].dataset.v,y=b.cells[i].dataset.v,nx=parseFloat(x),ny=parseFloat(y);
var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:String(x).localeCompare(String(y));return asc?c:-c;});
rows.forEach(function(r){t.tBodies[0].appendChild(r);});});});});
]]

local function page(title, status, body, scripts)
  local h = { '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' }
  if status and status.state ~= "finished" then h[#h + 1] = '<meta http-equiv="refresh" content="30">\n' end
  h[#h + 1] = "<title>" .. esc(title) .. "</title>\n<style>" .. STYLE .. "</style>\n</head>\n<body>\n"
  h[#h + 1] = body
  h[#h + 1] = "<script>\n" .. STATUS_JS .. (scripts or "") .. "document.body.dataset.rendered='1';\n</script>\n</body>\n</html>\n"
  return table.concat(h)
end

-- the run's state: finished (log recorded its end), or running / stopped
-- by the age of metrics.jsonl against a few of its own intervals
local function status_of(r, force)
  local state = force or (r.cfg.finished and "finished") or nil
  local steps = #r.rows
  local elapsed = r.metrics_mtime and r.start and (r.metrics_mtime - r.start) or nil
  local stale = math.max(120, elapsed and steps > 0 and 5 * elapsed / steps or 0)
  if not state then state = (r.metrics_mtime and os.time() - r.metrics_mtime <= stale) and "running" or "stopped" end
  return { state = state, stale = stale, last = r.metrics_mtime or 0 }
end

local function kv_table(t, skip)
  local keys = {}
  for k in pairs(t) do if not (skip and skip[k]) then keys[#keys + 1] = tostring(k) end end
  table.sort(keys)
  local h = { "<table>\n" }
  for _, k in ipairs(keys) do
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    h[#h + 1] = string.format("<tr><th>%s</th><td>%s</td></tr>\n", esc(k), esc(fmt(v)))
  end
  h[#h + 1] = "</table>\n"
  return table.concat(h)
end

local function figure_html(from, dir, file, caption, cls)
  return string.format('<figure><a href="%s"><img%s src="%s" alt="%s" loading="lazy"></a><figcaption>%s</figcaption></figure>\n',
    href(from, dir .. "/" .. file), cls and (' class="' .. cls .. '"') or "", href(from, dir .. "/" .. file), esc(file), esc(caption))
end

local RUN_OPTS = argcheck.options("report.run", {
  out = { nil, kind = "string" }, status = { nil, kind = "string", choices = { "running", "finished" } },
  x = { "step", kind = "string", choices = { "step", "epoch" } },
})

-- run(dir [, {out = dir/report.html, status =, x = "step" | "epoch"}]) -> the page's path
function report.run(dir, o)
  argcheck.string("report.run", 1, dir, "dir")
  o = RUN_OPTS:check(o, 2)
  local r = load_run(dir)
  local out = o.out or (dir .. "/report.html")
  local from = dirname(out)
  local cfg = r.cfg
  local st = status_of(r, o.status)
  local b = {}
  local cmd = { "ganlua", cfg.script or "?" }
  for _, a in ipairs(type(cfg.args) == "table" and cfg.args or {}) do
    a = tostring(a)
    cmd[#cmd + 1] = a:match("^[%w%-%._/=,:+]+$") and a or ("'" .. a:gsub("'", "'\\''") .. "'")
  end
  local secs = cfg.seconds or (r.start and r.metrics_mtime and r.metrics_mtime - r.start)
  b[#b + 1] = string.format('<header><h1>%s<span id="status" class="badge %s" data-state="%s" data-last="%.3f" data-stale="%.0f">%s</span></h1>\n',
    esc(r.name), st.state, st.state, st.last, st.stale, st.state)
  b[#b + 1] = string.format('<div class="sub">%s &middot; ganlua %s &middot; started %s &middot; %s %s &middot; %d steps logged</div></header>\n<main>\n',
    esc(cfg.script or ""), esc(cfg.ganlua or "?"), esc(cfg.date or "?"), st.state == "finished" and "took" or "for",
    esc(duration(secs)), #r.rows)
  b[#b + 1] = '<section id="command"><h2>Command</h2>\n<pre>' .. esc(table.concat(cmd, " ")) .. "</pre>\n"
  b[#b + 1] = string.format("<p>seed %s &middot; %s thread%s &middot; directory %s</p>\n", esc(fmt(cfg.seed)),
    esc(fmt(cfg.threads)), cfg.threads == 1 and "" or "s", esc(dir))
  if type(cfg.options) == "table" then
    b[#b + 1] = "<details open><summary>resolved options</summary>\n" .. kv_table(cfg.options) .. "</details>\n"
  end
  b[#b + 1] = "</section>\n"
  -- summary, or the last value of each scalar
  b[#b + 1] = '<section id="summary"><h2>' .. (r.summary and "Summary" or "Latest values") .. "</h2>\n"
  b[#b + 1] = kv_table(r.summary or r.last) .. "</section>\n"
  -- charts
  b[#b + 1] = '<section id="charts"><h2>Scalars</h2>\n'
  if #r.names == 0 then b[#b + 1] = "<p>No scalars logged yet.</p>\n" end
  if r.bad > 0 then b[#b + 1] = string.format("<p>%d line%s of metrics.jsonl could not be read.</p>\n", r.bad, r.bad == 1 and "" or "s") end
  b[#b + 1] = '<div class="grid">\n'
  for _, name in ipairs(r.names) do
    local xs, ys, k = series_of(r.rows, name, o.x)
    if #ys > 0 then
      local uri = chart(from, { { name = name, x = xs, y = ys } },
        { title = name, xlabel = o.x, ylabel = name, smooth = smooth_for(#ys), size = { 560, 340 } })
      b[#b + 1] = string.format('<figure class="chart" data-metric="%s"><img src="%s" alt="%s"><figcaption>%d points%s, last %s</figcaption></figure>\n',
        esc(name), uri, esc(name), #ys, k > 1 and string.format(" (each the mean of %d)", k) or "", esc(fmt(ys[#ys])))
    end
  end
  b[#b + 1] = "</div></section>\n"
  -- sample grids: the latest, and a slider over the steps
  local js = {}
  for si, s in ipairs(r.series) do
    local last = s.items[#s.items]
    local list = {}
    for _, it in ipairs(s.items) do list[#list + 1] = string.format('{"s":%d,"f":%s}', it.step, json.encode(href(from, dir .. "/" .. it.file))) end
    b[#b + 1] = string.format('<section class="samples"><h2>%s</h2>\n<p><input type="range" id="sl%d" min="0" max="%d" value="%d"> <span id="lb%d">step %d (latest)</span></p>\n',
      esc(s.name), si, #s.items - 1, #s.items - 1, si, last.step)
    b[#b + 1] = string.format('<div class="grid"><figure><img class="pix" id="im%d" src="%s" alt="%s"><figcaption>%d pictures, steps %d to %d</figcaption></figure></div></section>\n',
      si, href(from, dir .. "/" .. last.file), esc(last.file), #s.items, s.items[1].step, last.step)
    js[#js + 1] = string.format("(function(){var L=[%s],s=document.getElementById('sl%d');s.addEventListener('input',function(){var e=L[s.value];"
      .. "document.getElementById('im%d').src=e.f;document.getElementById('lb%d').textContent='step '+e.s+(s.value==L.length-1?' (latest)':'');});})();\n",
      table.concat(list, ","), si, si, si)
  end
  if #r.singles > 0 or #r.gifs > 0 then
    b[#b + 1] = '<section id="figures"><h2>Figures</h2>\n<div class="grid">\n'
    for _, f in ipairs(r.singles) do b[#b + 1] = figure_html(from, dir, f, f) end
    for _, f in ipairs(r.gifs) do b[#b + 1] = figure_html(from, dir, f, f .. " (animation)") end
    b[#b + 1] = "</div></section>\n"
  end
  -- the script's own copy
  local script = cfg.script and read(dir .. "/" .. basename(cfg.script))
  if script then
    b[#b + 1] = string.format('<section id="script"><details><summary>%s (the copy in the run directory)</summary>\n<pre>%s</pre></details></section>\n',
      esc(basename(cfg.script)), esc(script))
  end
  b[#b + 1] = string.format("<p>Page written %s by ganlua %s.</p>\n</main>\n", os.date("!%Y-%m-%d %H:%M:%S UTC"), esc(core.version))
  S.write_file(out, page(r.name .. " - ganlua report", st, table.concat(b), table.concat(js)))
  return out
end

---------------------------------------------------------------- many runs

-- the runs a directory stands for: itself when it holds no runs below
-- it, else its subdirectories that are runs (a sweep)
local function runs_in(dir)
  if not isdir(dir) then argcheck.raise("report: " .. dir .. ": no such directory") end
  local subs = {}
  for _, name in ipairs(S.listdir(dir)) do
    if name:sub(-1) == "/" and read(dir .. "/" .. name .. "config.json") then subs[#subs + 1] = dir .. "/" .. name:sub(1, -2) end
  end
  table.sort(subs)
  return subs
end
report.runs_in = runs_in

local CMP_OPTS = argcheck.options("report.compare", {
  out = { nil, kind = "string" }, metric = { nil, kind = "string" }, title = { nil, kind = "string" },
  x = { "step", kind = "string", choices = { "step", "epoch" } }, links = { nil, kind = "table" },
})

-- compare(dirs [, {out =, metric =, title =, x =}]) -> the page's path
-- (out defaults to index.html in the directory holding the first run)
function report.compare(dirs, o)
  if type(dirs) ~= "table" or #dirs == 0 then argcheck.raise("report.compare: expected a list of run directories") end
  o = CMP_OPTS:check(o, 2)
  local runs = {}
  for i, d in ipairs(dirs) do
    if type(d) ~= "string" then argcheck.raise(string.format("report.compare: entry %d must be a directory name", i)) end
    runs[i] = load_run(d)
  end
  local out = o.out or (dirname(dirs[1]) .. "/index.html")
  local from = dirname(out)
  local mk, merr = S.mkdir(from)
  if not mk then argcheck.raise("report.compare: " .. tostring(merr)) end
  -- names: basenames, or the paths when two basenames clash
  local seen, clash = {}, false
  for _, r in ipairs(runs) do clash = clash or seen[r.name]; seen[r.name] = true end
  if clash then for _, r in ipairs(runs) do r.name = r.dir end end
  -- options whose values differ (out always does)
  local keys, kset = {}, {}
  for _, r in ipairs(runs) do
    for k in pairs(type(r.cfg.options) == "table" and r.cfg.options or {}) do
      if not kset[k] and k ~= "out" then kset[k] = true; keys[#keys + 1] = k end
    end
  end
  table.sort(keys)
  local differ = {}
  for _, k in ipairs(keys) do
    local first
    for i, r in ipairs(runs) do
      local v = fmt((r.cfg.options or {})[k])
      if i == 1 then first = v elseif v ~= first then differ[#differ + 1] = k; break end
    end
  end
  -- final metrics: the summaries' numbers, else each scalar's last value
  local mkeys, mset = {}, {}
  for _, r in ipairs(runs) do
    r.final = {}
    for k, v in pairs(r.summary or r.last) do
      if type(v) == "number" and k ~= "step" and k ~= "epoch" and k ~= "seed" then
        r.final[k] = v
        if not mset[k] then mset[k] = true; mkeys[#mkeys + 1] = k end
      end
    end
  end
  table.sort(mkeys)
  local b = {}
  local title = o.title or ("comparing " .. #runs .. " runs")
  b[#b + 1] = string.format('<header><h1>%s</h1><div class="sub">ganlua %s &middot; %d runs &middot; page written %s</div></header>\n<main>\n',
    esc(title), esc(core.version), #runs, os.date("!%Y-%m-%d %H:%M:%S UTC"))
  b[#b + 1] = '<section id="table"><h2>Runs</h2>\n<p>Options that differ between the runs, and final metrics. Click a column to sort.</p>\n'
  b[#b + 1] = '<table class="sortable"><thead><tr><th class="sort">run</th><th class="sort">state</th>'
  for _, k in ipairs(differ) do b[#b + 1] = '<th class="sort">' .. esc(k) .. "</th>" end
  for _, k in ipairs(mkeys) do b[#b + 1] = '<th class="sort">' .. esc(k) .. "</th>" end
  b[#b + 1] = "</tr></thead>\n<tbody>\n"
  for i, r in ipairs(runs) do
    local link = (o.links and o.links[i]) or (r.dir .. "/report.html")
    local name = S.mtime(link) and string.format('<a href="%s">%s</a>', href(from, link), esc(r.name)) or esc(r.name)
    local st = status_of(r).state
    b[#b + 1] = string.format('<tr><td data-v="%s">%s</td><td data-v="%s">%s</td>', esc(r.name), name, st, st)
    for _, k in ipairs(differ) do
      local v = fmt((r.cfg.options or {})[k])
      b[#b + 1] = string.format('<td data-v="%s">%s</td>', esc(v), esc(v))
    end
    for _, k in ipairs(mkeys) do
      local v = r.final[k]
      b[#b + 1] = v and string.format('<td class="num" data-v="%.17g">%s</td>', v, esc(fmt(v))) or '<td data-v=""></td>'
    end
    b[#b + 1] = "</tr>\n"
  end
  b[#b + 1] = "</tbody></table></section>\n"
  -- overlaid curves, one chart per metric, one shown at a time
  local names, nset = {}, {}
  for _, r in ipairs(runs) do for _, n in ipairs(r.names) do if not nset[n] then nset[n] = true; names[#names + 1] = n end end end
  local chosen = o.metric
  if chosen and not nset[chosen] then
    argcheck.raise(string.format("report.compare: no run logs the metric '%s' (they log: %s)", chosen, table.concat(names, ", ")))
  end
  chosen = chosen or names[1]
  b[#b + 1] = '<section id="curves"><h2>Curves</h2>\n'
  if #names == 0 then
    b[#b + 1] = "<p>No scalars logged yet.</p>\n"
  else
    b[#b + 1] = '<p><label>metric <select id="metric">'
    for _, n in ipairs(names) do b[#b + 1] = string.format('<option value="%s"%s>%s</option>', esc(n), n == chosen and " selected" or "", esc(n)) end
    b[#b + 1] = "</select></label></p>\n"
    for _, n in ipairs(names) do
      local series, np = {}, 0
      for _, r in ipairs(runs) do
        local xs, ys = series_of(r.rows, n, o.x)
        if #ys > 0 then series[#series + 1] = { name = r.name, x = xs, y = ys }; np = math.max(np, #ys) end
      end
      local uri = chart(from, series, { title = n, xlabel = o.x, ylabel = n, smooth = smooth_for(np), size = { 900, 480 } })
      b[#b + 1] = string.format('<figure class="curve" data-metric="%s"%s><img src="%s" alt="%s"></figure>\n', esc(n),
        n == chosen and "" or ' style="display:none"', uri, esc(n))
    end
  end
  b[#b + 1] = "</section>\n"
  -- each run's final picture
  b[#b + 1] = '<section id="pictures"><h2>Final pictures</h2>\n<div class="grid">\n'
  for _, r in ipairs(runs) do
    local f = final_picture(r)
    if f then b[#b + 1] = figure_html(from, r.dir, f, r.name .. ": " .. f) end
  end
  b[#b + 1] = "</div></section>\n</main>\n"
  local js = SORT_JS .. [[
(function(){var s=document.getElementById('metric');if(!s)return;s.addEventListener('change',function(){
document.querySelectorAll('figure.curve').forEach(function(f){f.style.display=f.dataset.metric===s.value?'':'none';});});})();
]]
  S.write_file(out, page(title, nil, table.concat(b), js))
  return out
end

---------------------------------------------------------------- command line

local USAGE = [[usage: ganlua report DIR... [--out DIR] [--metric NAME] [--x step|epoch]
  DIR        a run directory (config.json, metrics.jsonl, ...) or a sweep
             directory holding runs; each run gets DIR/report.html
  --out DIR  where the comparison page goes (DIR/index.html); needed when
             several directories are given; a sweep's goes into the sweep
             directory by default
  --metric   the metric the comparison page shows first
  --x        the charts' x axis: step (default) or epoch]]

local function usage_error(msg) error({ usage = msg }, 0) end

local function main(args)
  local dirs, o = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then print(USAGE); return 0 end
    local key, val = a:match("^%-%-(%w+)=(.*)$")
    if not key and a:match("^%-%-") then key, val = a:sub(3), args[i + 1]; i = i + 1 end
    if key then
      if key ~= "out" and key ~= "metric" and key ~= "x" then usage_error("report: unknown option --" .. key .. "\n" .. USAGE) end
      if val == nil then usage_error("report: --" .. key .. " needs a value") end
      o[key] = val
    else
      dirs[#dirs + 1] = (a:gsub("/+$", ""))
    end
    i = i + 1
  end
  if #dirs == 0 then usage_error("report: no run directory given\n" .. USAGE) end
  if o.x and o.x ~= "step" and o.x ~= "epoch" then usage_error("report: --x must be step or epoch, got '" .. o.x .. "'") end
  local runs, sweep_dir = {}, nil
  for _, d in ipairs(dirs) do
    local subs = runs_in(d)
    if #subs > 0 then
      sweep_dir = sweep_dir == nil and d or false
      for _, s in ipairs(subs) do runs[#runs + 1] = s end
    else
      if not read(d .. "/config.json") then argcheck.raise("report: " .. d .. " is not a run directory (no config.json) and holds no runs") end
      runs[#runs + 1] = d
      sweep_dir = false
    end
  end
  if #runs > 1 and not o.out and not sweep_dir then
    usage_error("report: comparing several runs needs --out DIR (the directory for the comparison page)")
  end
  if o.out and not S.mkdir(o.out) then argcheck.raise("report: cannot create " .. o.out) end
  for _, r in ipairs(runs) do
    local out = (#runs == 1 and o.out) and (o.out .. "/index.html") or nil
    print(report.run(r, { out = out, x = o.x }))
  end
  if #runs > 1 then
    print(report.compare(runs, { out = (o.out or sweep_dir) .. "/index.html", metric = o.metric, x = o.x,
                                 title = sweep_dir and ("sweep " .. basename(sweep_dir)) or nil }))
  end
  return 0
end

-- main(args) -> exit status: the `ganlua report` command; a mistake in
-- the arguments is one line on stderr and status 2 (as cli.parse), a run
-- that cannot be read or a page that cannot be written status 1
function report.main(args)
  local ok, err = pcall(main, args)
  if ok then return 0 end
  if type(err) == "table" and err.usage then
    io.stderr:write("ganlua ", err.usage, "\n")
    return 2
  end
  io.stderr:write("ganlua ", (tostring(err):gsub("^[^\n]-:%d+: ", "")), "\n")
  return 1
end

return report
