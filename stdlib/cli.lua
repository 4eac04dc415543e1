-- ganlua.cli: a script's command-line options.
--
--   local opt = cli.options {
--     epochs = 200,                                  -- integer
--     lambda = { 10.0, "feature-matching weight" },  -- number, described
--     variant = { "vanilla", "GAN variant", choices = { "vanilla", "fm" } },
--     plot = true,                                   -- boolean: --plot, --no-plot
--   }
--
-- `--key value`, `--key=value`, `--flag` / `--no-flag`; dashes and
-- underscores are the same (`--sample-interval 50`). Every script also
-- understands --seed (default 0, seeds the RNG), --threads (BLAS threads)
-- and --out (default runs/<script>/<date-time>), unless it declares its
-- own. `--help` lists everything. A mistake exits with status 2 and one
-- line naming it, before any work starts.
local core = require "ganlua.core"
local T = core.tensor

local cli = {}

local function normalize(name) return (name:gsub("-", "_")) end

local function type_of(v)
  if math.type(v) == "integer" then return "integer" end
  local t = type(v)
  if t == "number" or t == "boolean" or t == "string" then return t end
  return nil
end

-- {default, description, choices = {...}, type = "..."} or a plain default
local function parse_spec(name, v)
  local s
  if type(v) == "table" then
    s = { default = v[1], desc = v[2] or v.desc or "", choices = v.choices, type = v.type }
  else
    s = { default = v, desc = "" }
  end
  s.type = s.type or type_of(s.default)
  if not s.type then error(string.format("cli.options: option '%s' needs a default or a type", name), 4) end
  if s.choices then
    local ok = false
    for _, c in ipairs(s.choices) do ok = ok or c == s.default end
    if not ok and s.default ~= nil then
      error(string.format("cli.options: default of '%s' is not among its choices", name), 4)
    end
  end
  return s
end

local function edit_distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function convert(name, s, raw)
  local flag = "--" .. name:gsub("_", "-")
  if s.type == "integer" then
    local v = math.tointeger(tonumber(raw))
    if not v then return nil, string.format("%s: expected an integer, got '%s'", flag, raw) end
    return v
  elseif s.type == "number" then
    local v = tonumber(raw)
    if not v then return nil, string.format("%s: expected a number, got '%s'", flag, raw) end
    return v + 0.0
  elseif s.type == "boolean" then
    if raw == "true" or raw == "1" or raw == "yes" then return true end
    if raw == "false" or raw == "0" or raw == "no" then return false end
    return nil, string.format("%s: expected true or false, got '%s'", flag, raw)
  end
  if s.choices then
    for _, c in ipairs(s.choices) do if c == raw then return raw end end
    return nil, string.format("%s: '%s' is not one of %s", flag, raw, table.concat(s.choices, ", "))
  end
  return raw
end

local function script_name(script)
  return (script or "script"):match("([^/]*)$"):gsub("%.lua$", "")
end

local function with_globals(spec, script)
  local specs = {}
  for k, v in pairs(spec) do
    if type(k) ~= "string" then error("cli.options: option names must be strings", 3) end
    specs[normalize(k)] = parse_spec(k, v)
  end
  if not specs.seed then specs.seed = { default = 0, type = "integer", desc = "random seed" } end
  if not specs.threads then specs.threads = { default = 0, type = "integer", desc = "BLAS threads (0: all cores)" } end
  if not specs.out then
    specs.out = { default = "runs/" .. script_name(script) .. "/" .. os.date("%Y%m%d-%H%M%S"), type = "string",
                  desc = "run directory" }
  end
  return specs
end

-- The help text for a spec.
function cli.usage(spec, script)
  local specs = with_globals(spec, script)
  local names = {}
  for k in pairs(specs) do names[#names + 1] = k end
  table.sort(names)
  local lines = { string.format("usage: ganlua %s [--option value ...]", script or "script.lua"), "", "options:" }
  for _, k in ipairs(names) do
    local s = specs[k]
    local flag = "--" .. k:gsub("_", "-")
    local def = s.type == "boolean" and (s.default and "true" or "false") or tostring(s.default)
    local extra = s.choices and (" {" .. table.concat(s.choices, ", ") .. "}") or ""
    lines[#lines + 1] = string.format("  %-22s %-8s %s (default %s)%s", flag, s.type, s.desc, def, extra)
  end
  lines[#lines + 1] = "  --help                   this list"
  return table.concat(lines, "\n")
end

-- parse(spec, argv [, script]) -> opts, or nil, message (or "help" as the
-- message when --help was asked). Pure: reads nothing global.
function cli.parse(spec, argv, script)
  local specs = with_globals(spec, script)
  local opts = {}
  for k, s in pairs(specs) do opts[k] = s.default end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then return nil, "help" end
    if a:sub(1, 2) ~= "--" or #a < 3 then
      return nil, string.format("unexpected argument '%s' (options look like --name value)", a)
    end
    local body = a:sub(3)
    local name, value = body:match("^([^=]+)=(.*)$")
    name = normalize(name or body)
    local s = specs[name]
    if not s and name:sub(1, 3) == "no_" and specs[name:sub(4)] and specs[name:sub(4)].type == "boolean" and not value then
      opts[name:sub(4)] = false
    elseif not s then
      local best, bd = nil, math.huge
      for k in pairs(specs) do
        local d = edit_distance(name, k)
        if d < bd then best, bd = k, d end
      end
      local hint = (best and bd <= math.max(2, #name // 3)) and string.format(" (did you mean --%s?)", best:gsub("_", "-")) or ""
      return nil, string.format("unknown option --%s%s", body:match("^[^=]*"), hint)
    else
      if s.type == "boolean" and value == nil then
        local nxt = argv[i + 1]
        if nxt == "true" or nxt == "false" then value = nxt; i = i + 1 else value = "true" end
      elseif value == nil then
        value = argv[i + 1]
        if value == nil then return nil, string.format("--%s needs a value", body) end
        i = i + 1
      end
      local v, err = convert(name, s, value)
      if v == nil then return nil, err end
      opts[name] = v
    end
    i = i + 1
  end
  opts._script = script
  return opts
end

-- options(spec): parse the script's `arg`, apply --seed and --threads,
-- print help / errors and exit as a command-line tool does.
function cli.options(spec)
  local argv, script = {}, nil
  local a = rawget(_G, "arg")
  if type(a) == "table" then
    script = a[0]
    for i = 1, #a do argv[i] = a[i] end
  end
  local opts, err = cli.parse(spec, argv, script)
  local name = script and script:match("([^/]*)$") or "ganlua"
  if not opts then
    if err == "help" then
      print(cli.usage(spec, script))
      os.exit(0)
    end
    io.stderr:write(name, ": ", err, "\n")
    os.exit(2)
  end
  T.manual_seed(opts.seed)
  if opts.threads and opts.threads > 0 then T.set_num_threads(opts.threads) end
  return opts
end

-- The resolved options without the private fields, for logging.
function cli.describe(opts)
  local out = {}
  for k, v in pairs(opts) do if type(k) == "string" and k:sub(1, 1) ~= "_" then out[k] = v end end
  return out
end

return cli
