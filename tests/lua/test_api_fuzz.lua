-- The API fuzzer, tests/fuzz_api.lua, in a child ganlua: a fixed seed and a
-- few thousand calls of every public function with random arguments, in a
-- fresh temporary directory (the calls write files named after random
-- strings). The child must exit 0 -- a crash or a sanitizer report fails the
-- test -- make every call, and meet no internal error (a raw Lua error from
-- inside the library instead of a message naming the function).

local SEED, CALLS = 1, 5000

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- an absolute path (the child runs in another directory); a bare command
-- name is looked up in PATH as it is
local function absolute(path)
  if not path:find("/", 1, true) then return path end
  local p = io.popen("realpath -- " .. q(path) .. " 2>/dev/null")
  local abs = p:read("l")
  p:close()
  return abs or path
end

test("random calls of the public API raise named errors, never internal ones", function()
  local p = io.popen("mktemp -d")
  local dir = p:read("l")
  p:close()
  check.truthy(dir and dir ~= "", "mktemp -d")
  local bin, driver = absolute(check.ganlua), absolute(check.dir .. "/fuzz_api.lua")
  -- GANLUA_DATA unset: data.mnist must not find (and load) real files.
  -- allocator_may_return_null: under ASan a huge allocation returns NULL,
  -- which the runtime reports as an out-of-memory error, instead of aborting.
  local cmd = string.format("cd %s && env -u GANLUA_DATA ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}"
    .. "allocator_may_return_null=1\" %s --threads 1 %s %d %d 2>&1; echo \"rc=$?\"", q(dir), q(bin), q(driver),
    SEED, CALLS)
  p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local lf = io.open(dir .. "/fuzz_api.log", "r")
  local last = ""
  if lf then
    for line in lf:lines() do last = line end
    lf:close()
  end
  os.execute("rm -rf " .. q(dir))

  local body, rc = out:match("^(.-)rc=(%d+)%s*$")
  local function fail(why)
    error(string.format("%s\n--- child output (last call: %s) ---\n%s", why, last, (body or out):sub(-6000)), 2)
  end
  if rc ~= "0" then fail("the fuzzer exited with status " .. tostring(rc)) end
  local calls, internal = body:match("fuzz_api: calls=(%d+) ok=%d+ errors=%d+ internal=(%d+)")
  if not calls then fail("no summary line") end
  if tonumber(calls) ~= CALLS then fail(string.format("%s calls made, expected %d", calls, CALLS)) end
  if tonumber(internal) ~= 0 then fail(internal .. " internal errors (INTERNAL lines: the call and the message)") end
end)
