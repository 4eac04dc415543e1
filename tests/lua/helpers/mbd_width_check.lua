-- Run by test_nn.lua with GANLUA_MBD_WIDTH set: the pair kernel at that
-- vector width against the formula (forward) and the fused backward against
-- the composite one, at batch sizes around every width's blocks. Prints
-- "ok <max forward error> <max backward error>" or raises.
local core = require("ganlua.core")
tensor.manual_seed(3)
local fe, be = 0, 0
for _, n in ipairs { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 70 } do
  for _, self in ipairs { false, true } do
    local M = (tensor.randn(n, 3, 5) * 0.4):requires_grad()
    local o = core.nn.minibatch_disc(M, self)
    local t, want = M:totable(), {}
    for i = 1, n do
      want[i] = {}
      for b = 1, 3 do
        local s = self and 1 or 0
        for j = 1, n do
          if j ~= i then
            local d = 0
            for c = 1, 5 do d = d + math.abs(t[i][b][c] - t[j][b][c]) end
            s = s + math.exp(-d)
          end
        end
        want[i][b] = s
      end
    end
    fe = math.max(fe, ((o - tensor.from(want)):abs() / (tensor.from(want):abs() + 1)):max():item())
    local g = tensor.randn(n, 3)
    local fused = autograd.grad((o * g):sum(), M)
    local M2 = M:detach():requires_grad()
    local comp = autograd.grad((core.nn.minibatch_disc(M2, self) * g):sum(), M2, { create_graph = true })
    be = math.max(be, ((fused - comp):abs() / (comp:abs() + 1)):max():item())
  end
end
assert(fe < 1e-5 and be < 1e-5, string.format("width %s: forward error %g, backward error %g",
  os.getenv("GANLUA_MBD_WIDTH"), fe, be))
print(string.format("ok %g %g", fe, be))
