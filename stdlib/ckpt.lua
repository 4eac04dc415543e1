-- ganlua.ckpt: checkpoints in one safetensors file.
--   ckpt.save(path, { G = G, D = D, optG = optG, optD = optD, step = step })
--   local saved = ckpt.load(path, { G = G, D = D, optG = optG, optD = optD })
--   -- saved.step, and the RNG is back where it was at the save
-- Modules are stored under their state-dict names with the field as a
-- prefix ("G.0.weight"), optimizer buffers as "optG.state.3.exp_avg", and
-- everything else (numbers, strings, tables, optimizer step counts and
-- options, the RNG state) as JSON in the file's metadata under "ganlua".
-- A plain PyTorch reader sees ordinary float32 tensors.
-- Writes are atomic (temp file, fsync, rename): a crash mid-save leaves
-- the previous checkpoint. A truncated or corrupted file is an error.
local core = require "ganlua.core"
local json = require "ganlua.json"
local argcheck = require "ganlua.argcheck"
local T, F = core.tensor, core.formats

local ckpt = {}

local function is_module(v) return type(v) == "table" and rawget(v, "_params") ~= nil and v.state_dict end
local function is_optim(v) return type(v) == "table" and v.params and v.state and v.state_dict and v.step end
-- anything else with a plain state (a learning-rate scheduler): its
-- state_dict() goes into the metadata, load_state_dict() takes it back
local function is_stateful(v)
  return type(v) == "table" and type(v.state_dict) == "function" and type(v.load_state_dict) == "function"
end

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function unhex(h) return (h:gsub("%x%x", function(b) return string.char(tonumber(b, 16)) end)) end

-- Plain values go through JSON, which has no NaN or infinity and whose
-- objects have only string keys. So that they come back as they went in,
-- a non-finite number is stored as {["~num"] = "nan"|"inf"|"-inf"} and a
-- table that is neither a list nor string-keyed as {["~pairs"] = {{k, v}, ...}}.
local function wrap(v)
  if type(v) == "number" then
    if v ~= v then return { ["~num"] = "nan" } end
    if v == math.huge then return { ["~num"] = "inf" } end
    if v == -math.huge then return { ["~num"] = "-inf" } end
    return v
  end
  if type(v) ~= "table" or T.is_tensor(v) then return v end
  local n, strings, others = #v, true, false
  for k in pairs(v) do
    if type(k) ~= "string" then strings = false end
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then others = true end
  end
  local out = {}
  if not others or strings then
    for k, x in pairs(v) do out[k] = wrap(x) end
    return out
  end
  local pairs_ = {}
  for k, x in pairs(v) do pairs_[#pairs_ + 1] = { wrap(k), wrap(x) } end
  return { ["~pairs"] = pairs_ }
end
local NUMS = { nan = 0 / 0, inf = math.huge, ["-inf"] = -math.huge }
local function unwrap(v)
  if type(v) ~= "table" then return v end
  if v["~num"] ~= nil and next(v, next(v)) == nil then return NUMS[v["~num"]] end
  if v["~pairs"] ~= nil and next(v, next(v)) == nil then
    local out = {}
    for _, kv in ipairs(v["~pairs"]) do out[unwrap(kv[1])] = unwrap(kv[2]) end
    return out
  end
  local out = {}
  for k, x in pairs(v) do out[k] = unwrap(x) end
  return out
end

local SAVE_OPTS = argcheck.options("ckpt.save", { rng = { true } })
local LOAD_OPTS = argcheck.options("ckpt.load", { rng = { true }, strict = { true } })

-- save(path, items [, {rng = true}]) -> true; raises on failure (as torch.save does)
function ckpt.save(path, items, o)
  if type(path) ~= "string" then argcheck.raise("ckpt.save: path must be a string") end
  if type(items) ~= "table" then argcheck.raise("ckpt.save: expected a table of things to save") end
  o = SAVE_OPTS:check(o, 3)
  local names, tensors = {}, {}
  local meta = { version = core.version, modules = {}, optimizers = {}, values = {}, states = {} }
  local keys = {}
  for k in pairs(items) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = items[k]
    if type(k) ~= "string" or k:find("%.") then argcheck.raise("ckpt.save: keys must be strings without dots, got " .. tostring(k)) end
    if is_module(v) then
      local sd = v:state_dict()
      meta.modules[#meta.modules + 1] = k
      for _, name in ipairs(sd:keys()) do names[#names + 1] = k .. "." .. name; tensors[#tensors + 1] = sd[name] end
    elseif is_optim(v) then
      local sd = v:state_dict()
      local plain = { options = sd.options, state = {} }
      for i, s in ipairs(sd.state) do
        plain.state[i] = {}
        for sk, sv in pairs(s) do
          if T.is_tensor(sv) then
            names[#names + 1] = string.format("%s.state.%d.%s", k, i, sk)
            tensors[#tensors + 1] = sv
          else
            plain.state[i][sk] = sv
          end
        end
      end
      meta.optimizers[k] = plain
    elseif T.is_tensor(v) then
      names[#names + 1] = k
      tensors[#tensors + 1] = v
    elseif is_stateful(v) then
      local sd = v:state_dict()
      for sk, sv in pairs(type(sd) == "table" and sd or {}) do
        if T.is_tensor(sv) then argcheck.raise(string.format("ckpt.save: %s's state holds a Tensor (%s); save it as a module", k, sk)) end
      end
      meta.states[k] = wrap(sd)
    else
      meta.values[k] = wrap(v)
    end
  end
  if o.rng ~= false then meta.rng = hex(T.get_rng_state()) end
  local inner = argcheck.within("ckpt.save", json.encode, meta)
  local md = json.encode { ganlua = inner }
  return F.st_write(path, names, tensors, md)
end

-- read(path) -> {tensors = {name = Tensor}, names = {...}, metadata = {...}}
-- or nil, message: the raw contents, for any safetensors file.
function ckpt.read(path)
  argcheck.string("ckpt.read", 1, path, "path")
  local f, err = F.st_open(path)
  if not f then return nil, err end
  local ok, header = pcall(json.decode, f:header())
  if not ok then f:close(); return nil, path .. ": corrupt header: " .. tostring(header) end
  if type(header) ~= "table" then f:close(); return nil, path .. ": the header is not a JSON object" end
  local function bad(fmt, ...) f:close(); return nil, path .. ": " .. string.format(fmt, ...) end
  local meta = header.__metadata__
  if meta ~= nil then
    local ok = type(meta) == "table"
    for k, v in pairs(ok and meta or {}) do ok = ok and type(k) == "string" and type(v) == "string" end
    if not ok then return bad("__metadata__ must be an object of strings") end
  end
  local out = { tensors = {}, names = {}, metadata = meta or {} }
  -- a JSON array of n non-negative integers, nothing else
  local function int_list(v, n)
    if type(v) ~= "table" then return nil end
    local count = 0
    for k, x in pairs(v) do
      count = count + 1
      if math.type(k) ~= "integer" or k < 1 or math.type(x) ~= "integer" or x < 0 then return nil end
    end
    if count ~= #v or (n and count ~= n) then return nil end
    return v
  end
  local entries = {}
  for name, e in pairs(header) do
    if name ~= "__metadata__" then
      if type(e) ~= "table" or type(e.dtype) ~= "string" or not int_list(e.shape) or not int_list(e.data_offsets, 2)
         or e.data_offsets[1] > e.data_offsets[2] then
        return bad("malformed header entry for '%s' (dtype, shape and data_offsets must be a string, a list of sizes and two ordered byte offsets)", name)
      end
      entries[#entries + 1] = { name = name, e = e }
    end
  end
  -- tensors in file order, so a checkpoint reads back in a stable order;
  -- they must tile the data section exactly: no overlap, gap or spare bytes
  table.sort(entries, function(a, b)
    local x, y = a.e.data_offsets, b.e.data_offsets
    if x[1] ~= y[1] then return x[1] < y[1] end
    if x[2] ~= y[2] then return x[2] < y[2] end
    return a.name < b.name
  end)
  local at = 0
  for _, it in ipairs(entries) do
    local e = it.e
    if e.data_offsets[1] ~= at then
      return bad("tensor '%s' starts at byte %d of the data, where %d was expected (overlapping or gapped offsets)",
        it.name, e.data_offsets[1], at)
    end
    at = e.data_offsets[2]
    local t, terr = f:tensor(it.name, e.dtype, e.shape, e.data_offsets[1], e.data_offsets[2])
    if not t then f:close(); return nil, terr end
    out.tensors[it.name] = t
    out.names[#out.names + 1] = it.name
  end
  if at ~= f:data_size() then
    return bad("the tensors use %d bytes of a %d-byte data section", at, f:data_size())
  end
  f:close()
  return out
end

-- load(path, targets [, {strict = true}]) -> the saved plain values (step
-- and the like), after restoring every module and optimizer in targets
-- and the RNG state. Errors (missing file, corruption, mismatched
-- shapes) are raised with the file's name.
function ckpt.load(path, targets, o)
  argcheck.string("ckpt.load", 1, path, "path")
  if targets ~= nil and type(targets) ~= "table" then
    argcheck.fail("ckpt.load", 2, "targets", "a table of modules and optimizers", targets)
  end
  o = LOAD_OPTS:check(o, 3)
  local c, err = ckpt.read(path)
  if not c then argcheck.raise("ckpt.load: " .. err) end
  local meta = c.metadata.ganlua and json.decode(c.metadata.ganlua)
  if type(meta) ~= "table" then argcheck.raise("ckpt.load: " .. path .. " is not a ganlua checkpoint (no ganlua metadata)") end
  targets = targets or {}
  for k, v in pairs(targets) do
    if is_module(v) then
      local sd = {}
      local prefix = k .. "."
      for name, t in pairs(c.tensors) do
        if name:sub(1, #prefix) == prefix then sd[name:sub(#prefix + 1)] = t end
      end
      if next(sd) == nil then argcheck.raise(string.format("ckpt.load: %s holds no module '%s'", path, k)) end
      local ok, lerr = pcall(v.load_state_dict, v, sd, o.strict ~= false)
      if not ok then argcheck.raise(string.format("ckpt.load: %s, module '%s': %s", path, k, argcheck.strip(lerr))) end
    elseif is_optim(v) then
      local plain = meta.optimizers and meta.optimizers[k]
      if not plain then argcheck.raise(string.format("ckpt.load: %s holds no optimizer '%s'", path, k)) end
      local sd = { options = plain.options, state = {} }
      for i = 1, #v.params do
        local s = {}
        for sk, sv in pairs(plain.state[i] or {}) do s[sk] = sv end
        for name, t in pairs(c.tensors) do
          local pre = string.format("%s.state.%d.", k, i)
          if name:sub(1, #pre) == pre then s[name:sub(#pre + 1)] = t end
        end
        sd.state[i] = s
      end
      if #plain.state ~= #v.params then
        argcheck.raise(string.format("ckpt.load: %s, optimizer '%s' has state for %d parameters, this one has %d", path, k,
          #plain.state, #v.params))
      end
      local ok, lerr = pcall(v.load_state_dict, v, sd)
      if not ok then argcheck.raise(string.format("ckpt.load: %s, optimizer '%s': %s", path, k, argcheck.strip(lerr))) end
    elseif is_stateful(v) then
      local plain = meta.states and meta.states[k]
      if plain == nil then argcheck.raise(string.format("ckpt.load: %s holds no state '%s'", path, k)) end
      local ok, lerr = pcall(v.load_state_dict, v, unwrap(plain))
      if not ok then argcheck.raise(string.format("ckpt.load: %s, '%s': %s", path, k, argcheck.strip(lerr))) end
    end
  end
  if meta.rng and o.rng ~= false then T.set_rng_state(unhex(meta.rng)) end
  local values = unwrap(meta.values or {})
  for name, t in pairs(c.tensors) do
    if not name:find("%.") then values[name] = t end
  end
  return values
end

-- ckpt.manager(dir [, {keep = 3, best = nil, mode = "max"}]): checkpoints
-- as a training framework keeps them. m:save(step, items [, metrics])
-- writes dir/ckpt_<step>.safetensors (ckpt.save: atomic, raises on
-- failure), then deletes the oldest of its own beyond the last `keep`;
-- with best = "<metric name>", a save whose metrics[best] beats every
-- earlier one (higher for mode "max", lower for "min") is also written to
-- dir/best.safetensors. dir/checkpoints.json (atomic) records the kept
-- steps and the best step and value, so a resumed run's manager carries
-- on from them. m:latest() is the newest checkpoint's path (or nil),
-- m:best() the best one's path and value (or nil).
local MANAGER_OPTS = argcheck.options("ckpt.manager", {
  keep = { 3, min = 1 }, best = { nil, kind = "string" }, mode = { "max", choices = { "max", "min" } },
})
local Manager = {}
Manager.__index = Manager
local function step_path(dir, step) return string.format("%s/ckpt_%08d.safetensors", dir, step) end
function ckpt.manager(dir, o)
  argcheck.string("ckpt.manager", 1, dir, "dir")
  o = MANAGER_OPTS:check(o, 2)
  local m = setmetatable({ dir = dir, keep = o.keep, metric = o.best, mode = o.mode, kept = {}, best_step = nil,
                           best_value = nil }, Manager)
  local f = io.open(dir .. "/checkpoints.json", "r")
  if f then
    local text = f:read("a")
    f:close()
    local ok, rec = pcall(json.decode, text)
    if not ok or type(rec) ~= "table" or type(rec.kept) ~= "table" then
      argcheck.raise(string.format("ckpt.manager: %s/checkpoints.json is not a checkpoint record", dir))
    end
    for _, st in ipairs(rec.kept) do
      if math.type(st) == "integer" and io.open(step_path(dir, st)) then m.kept[#m.kept + 1] = st end
    end
    if rec.best_metric == m.metric then m.best_step, m.best_value = rec.best_step, rec.best_value end
  end
  return m
end
function Manager:_record()
  local rec = { kept = self.kept, best_metric = self.metric, best_step = self.best_step, best_value = self.best_value }
  local ok, err = core.sys.write_file(self.dir .. "/checkpoints.json", json.encode(rec) .. "\n")
  if not ok then argcheck.raise("ckpt.manager: " .. tostring(err)) end
end
function Manager:save(step, items, metrics)
  if math.type(step) ~= "integer" or step < 0 then argcheck.fail("ckpt.manager:save", 1, "step", "a non-negative integer", step) end
  if metrics ~= nil and type(metrics) ~= "table" then argcheck.fail("ckpt.manager:save", 3, "metrics", "a table of numbers", metrics) end
  local path = step_path(self.dir, step)
  ckpt.save(path, items)
  local kept = {}
  for _, st in ipairs(self.kept) do if st ~= step then kept[#kept + 1] = st end end
  kept[#kept + 1] = step
  while #kept > self.keep do
    os.remove(step_path(self.dir, table.remove(kept, 1)))
  end
  self.kept = kept
  if self.metric then
    local v = metrics and metrics[self.metric]
    if v ~= nil and type(v) ~= "number" then
      argcheck.raise(string.format("ckpt.manager:save: metric %s is a %s, not a number", self.metric, type(v)))
    end
    if v and v == v and (self.best_value == nil or (self.mode == "max" and v > self.best_value) or
                          (self.mode == "min" and v < self.best_value)) then
      ckpt.save(self.dir .. "/best.safetensors", items)
      self.best_step, self.best_value = step, v
    end
  end
  self:_record()
  return path
end
function Manager:latest()
  local st = self.kept[#self.kept]
  return st and step_path(self.dir, st) or nil
end
function Manager:best()
  if self.best_step == nil then return nil end
  return self.dir .. "/best.safetensors", self.best_value
end

return ckpt
