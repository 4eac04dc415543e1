-- tests/fuzz/targets.lua — the Lua side of the fuzz harnesses (fuzz.c): one
-- function per Lua target, given the input as a string (and the global
-- fuzz_path, where fuzz.c wrote it). A clean refusal returns; an internal
-- error raises "finding: ...", which fuzz.c turns into a crash report.
local internal = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../lua/helpers/internal_error.lua")
local ganlua = require "ganlua"
local ckpt, data, json, cli = ganlua.ckpt, ganlua.data, ganlua.json, ganlua.cli

local function guarded(f, ...)
  local ok, err = pcall(f, ...)
  if not ok and internal(err) then error("finding: " .. tostring(err), 0) end
end

local T = {}

function T.safetensors()
  guarded(function()
    local c = ckpt.read(fuzz_path)
    if c then for _, name in ipairs(c.names) do assert(c.tensors[name]) end end
  end)
end

function T.csv() guarded(data.read_csv, fuzz_path) end

function T.json(s) guarded(json.decode, s) end

-- a spec with every kind of option; the input is the argument list
local SPEC = {
  epochs = { 10, "epochs", min = 1 }, lr = { 1e-3, "learning rate", positive = true },
  lambda = { 1.0, "weight", min = 0, max = 100 }, variant = { "a", "variant", choices = { "a", "b", "c" } },
  verbose = false, name = "x", batch = { 64, "batch", type = "integer" },
}
function T.cli(s)
  local argv = {}
  for a in (s .. "\n"):gmatch("([^\n]*)\n") do argv[#argv + 1] = a end
  -- cli.parse never raises on a user's arguments: it returns nil, message
  local ok, err = pcall(cli.parse, SPEC, argv, "fuzz.lua")
  if not ok then error("finding: cli.parse raised: " .. tostring(err), 0) end
end

return T
