-- The REPL's pieces that do not need a terminal: completion, printing,
-- help. (The loop itself is driven through a pipe in tests/cli_test.sh.)
local R = ganlua.repl

test("completion of globals, module fields and methods", function()
  local c = table.concat(R.complete("tensor.ran"), " ")
  check.truthy(c:find("tensor.rand(", 1, true) and c:find("tensor.randn(", 1, true) and c:find("tensor.randperm(", 1, true), c)
  local env = setmetatable({ xx = tensor.ones(2), model = nn.Linear(2, 3) }, { __index = _G })
  local m = table.concat(R.complete("xx:res", env), " ")
  check.eq(m, "xx:reshape(")
  local f = table.concat(R.complete("model:named_p", env), " ")
  check.eq(f, "model:named_parameters(")
  local g = table.concat(R.complete("aut"), " ")
  check.truthy(g:find("autograd", 1, true), g)
  check.eq(#R.complete("nosuchthing.x"), 0)
end)

test("show prints tables shallowly and tensors fully", function()
  check.eq(R.show({ 1, 2, a = "x" }), '{1, 2, a = "x"}')
  check.truthy(R.show(tensor.ones(2)):find("tensor([1., 1.], size=2)", 1, true))
  local big = {}
  for i = 1, 30 do big[i] = i end
  check.truthy(R.show(big):find("... (30 entries)", 1, true))
  check.truthy(R.show({ t = tensor.ones(100, 100) }):find("t = tensor(size=100x100)", 1, true))
end)

test("help has summaries for functions, classes and modules", function()
  local out = {}
  local old = print
  print = function(...) out[#out + 1] = table.concat({ ... }, " ") end
  help(tensor.randn)
  help(nn.Conv2d)
  help(losses.gradient_penalty)
  help(tensor.ones(2, 3))
  help(nn.Sequential { nn.Linear(2, 2) })
  print = old
  local s = table.concat(out, "\n")
  check.truthy(s:find("tensor.randn(d1, ..., dn)", 1, true), s)
  check.truthy(s:find("nn.Conv2d(in, out, k", 1, true), s)
  check.truthy(s:find("WGAN-GP", 1, true), s)
  check.truthy(s:find("Tensor of size 2x3", 1, true), s)
  check.truthy(s:find("Sequential module, 6 parameters", 1, true), s)
end)

-- Every public function and class of every module, one level into nn's
-- and optim's sub-tables, has a signature and a line in help; tensor
-- methods are documented under their own name (help("matmul")).
test("help: nothing public says \"no summary yet\"", function()
  local docs = require("ganlua.help").docs
  local missing = {}
  local mods = { "tensor", "autograd", "nn", "losses", "optim", "data", "metrics", "image", "ckpt", "plot", "cli", "log",
                 "models", "sweep", "json", "report", "dist" }
  local function walk(prefix, t, depth)
    for k, v in pairs(t) do
      if type(k) == "string" and not k:match("^_") then
        local name = prefix .. "." .. k
        if type(v) == "function" or (type(v) == "table" and v.__name and v ~= t) then
          local method = prefix == "tensor" and docs[k]
          if not docs[name] and not method then missing[#missing + 1] = name end
        elseif type(v) == "table" and depth == 0 and (k == "utils" or k == "init" or k == "functional" or k == "lr_scheduler") then
          walk(name, v, 1)
        end
      end
    end
  end
  for _, m in ipairs(mods) do walk(m, _G[m], 0) end
  table.sort(missing)
  check.eq(#missing, 0, "no help for: " .. table.concat(missing, " "))
  -- and what help prints for a method is what help("name") prints
  local out = {}
  local old = print
  print = function(...) out[#out + 1] = table.concat({ ... }, " ") end
  help(nn.GELU); help("var"); help(optim.lr_scheduler.CosineAnnealingLR)
  print = old
  local s = table.concat(out, "\n")
  check.truthy(s:find("nn.GELU([approximate", 1, true) and s:find("x:var([dim", 1, true) and s:find("T_max", 1, true), s)
end)
