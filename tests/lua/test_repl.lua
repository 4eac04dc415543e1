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
