-- ganlua.tensor: the tensor module (constructors, ops, RNG). Everything is
-- implemented in C (bindings/tensor.c); this file is where Lua-level
-- conveniences go.
local T = require("ganlua.core").tensor
return T
