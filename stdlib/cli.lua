-- ganlua.cli: a script's command-line options.
--
--   local opt = cli.options {
--     epochs = 200,                                  -- integer (math.type of the default)
--     lambda = { 10.0, "feature-matching weight" },  -- number, described
--     variant = { "vanilla", "GAN variant", choices = { "vanilla", "fm" } },
--     plot = true,                                   -- boolean: --plot, --no-plot
--     max_norm = { type = "number", desc = "clip gradients (default: off)" },
--     batch = { 64, "batch size", positive = true },   -- also min =, max =
--   }
--
-- A spec entry is a plain default (its type inferred: integer, number,
-- boolean, string) or a table { default, "description", choices = {...},
-- type = "integer" | "number" | "boolean" | "string" }; desc = "..." may
-- stand for the description. Command lines: `--key value`, `--key=value`,
-- `--flag` / `--no-flag` / `--flag=false` / `--flag false`; dashes and
-- underscores are the same (`--sample-interval 50` sets sample_interval).
--
-- Every script also understands --seed (integer, default 0: tensor.manual_seed),
-- --threads (BLAS threads; 0, the default, leaves them alone) and --out (the
-- run directory, default runs/<script>/<YYYYmmdd-HHMMSS>); a script that
-- declares one of them keeps its own default. `--help` / `-h` lists
-- everything and exits 0. A mistake (unknown option, wrong type, value not
-- among the choices, missing value, stray argument) exits with status 2 and
-- one line on stderr, before any work starts.
--
-- cli.parse(spec, argv [, script]) is the same without exiting: it returns
-- the options, or nil and the message ("help" when --help was asked).
local core = require "ganlua.core"
local argcheck = require "ganlua.argcheck"
local T = core.tensor

local cli = {}

local TYPES = { integer = "an integer", number = "a number", boolean = "true or false", string = "a string" }
local SPEC_FIELDS = { [1] = true, [2] = true, desc = true, choices = true, type = true, min = true, max = true,
                      positive = true }
local TRUE = { ["true"] = true, yes = true, on = true, ["1"] = true }
local FALSE = { ["false"] = true, no = true, off = true, ["0"] = true }

local function normalize(name) return (name:gsub("-", "_")) end
local function flag(name) return "--" .. name:gsub("_", "-") end

local function type_of(v)
  local mt = math.type(v)
  if mt then return mt == "integer" and "integer" or "number" end
  local t = type(v)
  if t == "boolean" or t == "string" then return t end
  return nil
end

-- a value of a spec's declared type, or nil (integral floats count as integers)
local function coerce(ty, v)
  if ty == "integer" then return math.type(v) and math.tointeger(v) or nil end
  if ty == "number" then return math.type(v) and v + 0.0 or nil end
  if type(v) == ty then return v end
  return nil
end

-- the script's name without directory and .lua, for the default run directory
local function script_stem(script)
  return ((script or "ganlua"):match("([^/]*)$"):gsub("%.lua$", ""))
end

-- One spec entry -> { name, type, default, desc, choices } or nil, message.
local function parse_spec(name, v)
  local what = string.format("cli.options: option '%s'", name)
  local s
  if type(v) == "table" then
    for k in pairs(v) do
      if not SPEC_FIELDS[k] then
        return nil, string.format("%s: unknown field '%s' (expected {default, description, choices=, type=, min=, max=, positive=})",
          what, tostring(k))
      end
    end
    s = { default = v[1], desc = v[2] or v.desc, choices = v.choices, type = v.type, min = v.min, max = v.max,
          positive = v.positive }
  else
    s = { default = v }
  end
  s.name = name
  if s.desc ~= nil and type(s.desc) ~= "string" then return nil, what .. ": the description must be a string" end
  s.desc = s.desc or ""
  if s.type == nil then
    s.type = type_of(s.default)
    if not s.type then
      return nil, what .. ": the default must be an integer, number, boolean or string (or give type=)"
    end
  elseif not TYPES[s.type] then
    return nil, string.format("%s: unknown type '%s' (integer, number, boolean or string)", what, tostring(s.type))
  end
  if s.default ~= nil then
    local d = coerce(s.type, s.default)
    if d == nil then return nil, string.format("%s: the default %s is not %s", what, tostring(s.default), TYPES[s.type]) end
    s.default = d
  end
  -- range constraints (numbers only): min, max, positive; every number
  -- option is also finite (1e400 reads as inf and is refused)
  if s.min ~= nil or s.max ~= nil or s.positive ~= nil then
    if s.type ~= "integer" and s.type ~= "number" then return nil, what .. ": min, max and positive need a number option" end
    for _, k in ipairs { "min", "max" } do
      if s[k] ~= nil and (type(s[k]) ~= "number" or s[k] ~= s[k]) then return nil, string.format("%s: %s must be a number", what, k) end
    end
    if s.positive ~= nil and type(s.positive) ~= "boolean" then return nil, what .. ": positive must be true or false" end
  end
  if s.type == "integer" or s.type == "number" then
    s.check, s.range = argcheck.range(s.type == "integer", s)
    if s.default ~= nil and s.check(s.default) then
      return nil, string.format("%s: the default %s is out of its range (%s)", what, tostring(s.default), s.check(s.default))
    end
  end
  if s.choices ~= nil then
    if type(s.choices) ~= "table" or #s.choices == 0 then return nil, what .. ": choices must be a non-empty list" end
    local ok = s.default == nil
    for i, c in ipairs(s.choices) do
      local cc = coerce(s.type, c)
      if cc == nil then return nil, string.format("%s: choice %d (%s) is not %s", what, i, tostring(c), TYPES[s.type]) end
      s.choices[i] = cc
      ok = ok or cc == s.default
    end
    if not ok then return nil, string.format("%s: the default %s is not among its choices", what, tostring(s.default)) end
  end
  return s
end

local GLOBALS = {
  { name = "seed", type = "integer", default = 0, desc = "random seed, given to tensor.manual_seed" },
  { name = "threads", type = "integer", default = 0, desc = "BLAS threads, 0 keeps the default",
    check = function(v) if v < 0 or v > 1024 then return "expected 0 to 1024" end end },
  { name = "out", type = "string", desc = "run directory" },
}

-- spec -> specs (by normalized name), sorted names of the script's own
-- options, sorted names of the global ones it did not declare; or nil, msg.
local function build(spec, script)
  if type(spec) ~= "table" then return nil, "cli.options: expected a table of options" end
  local specs, own, common = {}, {}, {}
  for k, v in pairs(spec) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_%-]*$") then
      return nil, string.format("cli.options: option names must be identifiers, got %s", tostring(k))
    end
    local n = normalize(k)
    if n == "help" or n == "h" then return nil, "cli.options: option '" .. k .. "' is reserved for --help" end
    if specs[n] then return nil, string.format("cli.options: option '%s' is declared twice", n) end
    local s, err = parse_spec(k, v)
    if not s then return nil, err end
    s.name = n
    specs[n] = s
    own[#own + 1] = n
  end
  for _, g in ipairs(GLOBALS) do
    if not specs[g.name] then
      local s = {}
      for k, v in pairs(g) do s[k] = v end
      if g.name == "out" then s.default = "runs/" .. script_stem(script) .. "/" .. os.date("%Y%m%d-%H%M%S") end
      specs[g.name] = s
      common[#common + 1] = g.name
    end
  end
  table.sort(own)
  return specs, own, common
end

-- the declared name closest to `name` (argcheck.suggest)
local function suggest(name, specs)
  local names = { "help" }
  for k in pairs(specs) do names[#names + 1] = k end
  return argcheck.suggest(name, names)
end

-- raw string -> value of spec s, or nil, message
local function convert(s, raw)
  local v
  if s.type == "integer" then
    v = math.tointeger(tonumber(raw))
  elseif s.type == "number" then
    v = tonumber(raw)
    v = v and v + 0.0
  elseif s.type == "boolean" then
    local l = raw:lower()
    if TRUE[l] then v = true elseif FALSE[l] then v = false end
  else
    v = raw
  end
  if v == nil then return nil, string.format("%s: expected %s, got '%s'", flag(s.name), TYPES[s.type], raw) end
  if s.choices then
    local listed = argcheck.not_one_of(v, s.choices)
    if listed then return nil, string.format("%s: '%s' is not one of %s", flag(s.name), raw, listed) end
  end
  local bad = s.check and s.check(v)
  if bad then return nil, string.format("%s: %s, got '%s'", flag(s.name), bad, raw) end
  return v
end

local function parse(spec, argv, script)
  local specs, own, common = build(spec, script)
  if not specs then argcheck.raise(own) end
  if type(argv) ~= "table" then argcheck.raise("cli.parse: expected a list of arguments") end
  local strs = {}
  for j = 1, #argv do strs[j] = tostring(argv[j]) end
  argv = strs
  for _, a in ipairs(argv) do
    if a == "--help" or a == "-h" then return nil, "help" end
  end
  local opts = {}
  for k, s in pairs(specs) do opts[k] = s.default end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a:sub(1, 2) ~= "--" or #a < 3 then
      return nil, string.format("unexpected argument '%s' (options look like --name value)", a)
    end
    local body = a:sub(3)
    local written, value = body:match("^([^=]+)=(.*)$")
    written = written or body
    local name = normalize(written)
    local s = specs[name]
    local negated = not s and name:sub(1, 3) == "no_" and specs[name:sub(4)]
    if negated and negated.type == "boolean" then
      if value ~= nil then return nil, string.format("--%s takes no value (write %s=%s)", written, flag(negated.name), value) end
      opts[negated.name] = false
    elseif not s then
      local best = suggest(name, specs)
      return nil, string.format("unknown option --%s%s", written, best and (" (did you mean " .. flag(best) .. "?)") or "")
    else
      if value == nil then
        local nxt = argv[i + 1]
        if s.type == "boolean" then
          if nxt and (TRUE[nxt:lower()] or FALSE[nxt:lower()]) then value, i = nxt, i + 1 else value = "true" end
        elseif nxt == nil or nxt:sub(1, 2) == "--" then
          return nil, string.format("%s: missing value (expected %s)", flag(name), TYPES[s.type])
        else
          value, i = nxt, i + 1
        end
      end
      local v, err = convert(s, value)
      if v == nil then return nil, err end
      opts[name] = v
    end
    i = i + 1
  end
  opts._script, opts._args = script, argv
  return opts
end

-- parse(spec, argv [, script]) -> opts, or nil, message ("help" for --help).
-- Pure: reads no globals, prints nothing, seeds nothing. A malformed spec
-- (a misuse, not a user's typo) raises.
function cli.parse(spec, argv, script)
  return parse(spec, argv, script)
end

local function show(s, v)
  if v == nil then return "none" end
  if s.type == "string" then return '"' .. v .. '"' end
  return tostring(v)
end

-- usage(spec [, script]) -> the --help text
function cli.usage(spec, script)
  local specs, own, common = build(spec, script)
  if not specs then argcheck.raise(own) end
  local function label(s) return s.type == "boolean" and "--[no-]" .. s.name:gsub("_", "-") or flag(s.name) end
  local width = #"-h, --help"
  for _, s in pairs(specs) do width = math.max(width, #label(s)) end
  local function line(s)
    local text = s.desc ~= "" and s.desc .. " " or ""
    text = text .. "(default " .. show(s, s.default) .. ")"
    if s.choices then
      local cs = {}
      for i, c in ipairs(s.choices) do cs[i] = tostring(c) end
      text = text .. " {" .. table.concat(cs, ", ") .. "}"
    end
    if s.range then text = text .. " [" .. s.range .. "]" end
    return string.format("  %-" .. width .. "s  %-7s  %s", label(s), s.type, text)
  end
  local lines = { string.format("usage: ganlua %s [--option value ...]", script or "script.lua") }
  if #own > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "options:"
    for _, k in ipairs(own) do lines[#lines + 1] = line(specs[k]) end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "common options:"
  for _, k in ipairs(common) do lines[#lines + 1] = line(specs[k]) end
  lines[#lines + 1] = string.format("  %-" .. width .. "s  %-7s  %s", "-h, --help", "", "this list")
  return table.concat(lines, "\n")
end

-- options(spec): parse the script's `arg` (arg[0] the script, arg[1..n] its
-- arguments), seed the RNG, set the thread count; on --help print the list
-- and exit 0, on a mistake print one line to stderr and exit 2.
function cli.options(spec)
  local argv, script = {}, nil
  local a = rawget(_G, "arg")
  if type(a) == "table" then
    script = type(a[0]) == "string" and a[0] or nil
    for i = 1, #a do argv[i] = tostring(a[i]) end
  end
  local opts, err = parse(spec, argv, script, 2)
  if not opts then
    if err == "help" then
      io.stdout:write(cli.usage(spec, script), "\n")
      io.stdout:flush()
      os.exit(0)
    end
    io.stderr:write(script and script:match("([^/]*)$") or "ganlua", ": ", err, "\n")
    os.exit(2)
  end
  if math.type(opts.seed) == "integer" then T.manual_seed(opts.seed) end
  local n = opts.threads
  if math.type(n) == "integer" and n >= 1 and n <= 1024 then T.set_num_threads(n) end
  return opts
end

-- describe(opts) -> the resolved options without the private _fields (a
-- fresh table, for config.json and log lines)
function cli.describe(opts)
  local out = {}
  for k, v in pairs(opts) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then out[k] = v end
  end
  return out
end

return cli
