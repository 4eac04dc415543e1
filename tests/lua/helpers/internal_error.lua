-- tests/lua/helpers/internal_error.lua — is an error raised by ganlua an internal one?
-- (shared by tests/fuzz_api.lua and the fuzz harnesses, tests/fuzz/targets.lua)
-- An internal error: a raw Lua error ("attempt to index a nil value"), a
-- bad argument to a Lua builtin the library called (format, concat, ...), or
-- a message positioned inside the stdlib (a library error should point at the
-- caller's line). A layer's own message ("Linear: ...") raised inside a
-- container's forward or a callback is the one stdlib position allowed.
local builtins = { "format", "concat", "insert", "remove", "unpack", "rep", "sub", "find", "gsub", "gmatch", "match",
  "char", "byte", "floor", "ceil", "abs", "max", "min", "sqrt", "log", "exp", "tointeger", "fmod", "setmetatable",
  "getmetatable", "select", "tostring", "tonumber", "ipairs", "pairs", "next", "open", "write", "read", "lines",
  "rename", "sort", "upper", "lower", "pack", "len", "rawget", "rawset", "rawlen", "error", "random" }
return function(e)
  if type(e) ~= "string" then return true end
  if e:find("attempt to") or e:find("stack overflow") then return true end
  if e:find("no integer representation") and not e:find("bad argument #%d+ to '") then return true end
  if e:find("'for' %a+ must be a number") or e:find("in table for 'concat'") then return true end
  if e:find("^stdlib/") and not e:find("^stdlib/[%w_]+%.lua:%d+: %u%w*: ") then return true end
  for _, f in ipairs(builtins) do
    if e:find("bad argument #%d+ to '" .. f .. "'") then return true end
  end
  return false
end
