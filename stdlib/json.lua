-- ganlua.json: a small JSON encoder/decoder for configs, metrics lines,
-- checkpoint headers. Numbers round-trip (9, 15, 16 or 17 digits); NaN and infinities are
-- written as null (JSON has no spelling for them). Tables with keys 1..n
-- (and nothing else) are arrays; other tables are objects with sorted keys.
local argcheck = require "ganlua.argcheck"

local json = {}

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
                  ["\t"] = "\\t" }

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return escapes[c] or string.format("\\u%04x", c:byte()) end) .. '"'
end

local function is_array(t)
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  for i = 1, n do if t[i] == nil then return false end end
  return true, n
end

local function encode(v, seen)
  local tv = type(v)
  if tv == "nil" then return "null" end
  if tv == "boolean" then return tostring(v) end
  if tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type(v) == "integer" then return tostring(v) end
    for _, digits in ipairs { 9, 15, 16 } do -- the shortest of these that reads back exactly
      local s = string.format("%." .. digits .. "g", v)
      if tonumber(s) == v then return s end
    end
    return string.format("%.17g", v)
  end
  if tv == "string" then return encode_string(v) end
  if tv == "table" then
    if seen[v] then error("json.encode: a table contains itself", 0) end
    seen[v] = true
    local out = {}
    local arr, n = is_array(v)
    if arr and n > 0 then
      for i = 1, n do out[i] = encode(v[i], seen) end
      seen[v] = nil
      return "[" .. table.concat(out, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do
      if type(k) ~= "string" and type(k) ~= "number" then error("json.encode: object keys must be strings", 0) end
      keys[#keys + 1] = tostring(k)
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local val = v[k]
      if val == nil then val = v[tonumber(k)] end
      out[#out + 1] = encode_string(k) .. ":" .. encode(val, seen)
    end
    seen[v] = nil
    return "{" .. table.concat(out, ",") .. "}"
  end
  if tv == "userdata" and tostring(v):match("^tensor") then
    return encode(v:totable(), seen)
  end
  error("json.encode: cannot encode a " .. tv, 0)
end

-- encode's errors are raised without a position (level 0) and re-raised
-- here, so that they point at the caller however deep the value was
function json.encode(v)
  local ok, s = pcall(encode, v, {})
  if not ok then argcheck.raise(s) end
  return s
end

-- decode(s) -> value, or raises "json: <what> at byte N"
function json.decode(s)
  if type(s) ~= "string" then
    argcheck.raise("json.decode: argument 1 must be a string, got " .. argcheck.typename(s))
  end
  local pos = 1
  local function fail(what) error(string.format("json: %s at byte %d", what, pos), 0) end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    local out, i = {}, pos + 1
    while true do
      local j = s:find('["\\]', i)
      if not j then fail("unterminated string") end
      out[#out + 1] = s:sub(i, j - 1)
      if s:sub(j, j) == '"' then pos = j + 1; break end
      local e = s:sub(j + 1, j + 1)
      local simple = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
      if simple[e] then out[#out + 1] = simple[e]; i = j + 2
      elseif e == "u" then
        local hex = s:sub(j + 2, j + 5)
        if not hex:match("^%x%x%x%x$") then pos = j; fail("bad \\u escape") end
        local cp = tonumber(hex, 16)
        i = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF and s:sub(i, i + 1) == "\\u" then
          local lo = tonumber(s:sub(i + 2, i + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00); i = i + 6 end
        end
        out[#out + 1] = utf8.char(cp)
      else pos = j; fail("bad escape") end
    end
    return table.concat(out)
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      pos = pos + 1
      local obj = {}
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1 return obj end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("expected a string key") end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then pos = pos - 1; fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      pos = pos + 1
      local arr, n = {}, 0
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1 return arr end
      while true do
        n = n + 1 -- explicit, so a null keeps its place (a hole) instead of shifting what follows
        arr[n] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then pos = pos - 1; fail("expected ',' or ']'") end
      end
    elseif c == '"' then return str()
    elseif s:sub(pos, pos + 3) == "true" then pos = pos + 4 return true
    elseif s:sub(pos, pos + 4) == "false" then pos = pos + 5 return false
    elseif s:sub(pos, pos + 3) == "null" then pos = pos + 4 return nil
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" or num == "-" then fail("unexpected '" .. c .. "'") end
      pos = pos + #num
      local v = math.tointeger(tonumber(num)) or tonumber(num)
      if not v then fail("bad number") end
      return v
    end
  end
  local v = value()
  ws()
  if pos <= #s then fail("trailing characters") end
  return v
end

return json
