-- Bad input is a Lua error naming the function and what was wrong, never
-- a crash. (Each case also runs under ASan/UBSan in CI.)

local function raises(pat, fn) return check.raises(fn, pat) end

test("shape mismatches name the op and the sizes", function()
  raises("matmul: 2x3 @ 2x3: inner sizes 3 and 2 differ", function() tensor.ones(2, 3):matmul(tensor.ones(2, 3)) end)
  raises("add: shapes 2x3 and 4 do not broadcast", function() return tensor.ones(2, 3) + tensor.ones(4) end)
  raises("mul: shapes 3 and 2 do not broadcast", function() return tensor.ones(3) * tensor.ones(2) end)
  raises("view: shape 4x2 is invalid for 2x3 (6 elements)", function() tensor.ones(2, 3):reshape(4, 2) end)
  raises("reshape: cannot infer dim", function() tensor.ones(2, 3):reshape(-1, 4) end)
  raises("expand: 2x3 cannot be expanded to 4x3", function() tensor.ones(2, 3):expand(4, 3) end)
  raises("cat: tensor 2 is 3x3 but tensor 1 is 2x2", function() tensor.cat({ tensor.ones(2, 2), tensor.ones(3, 3) }) end)
  raises("stack: tensor 2 is 3 but tensor 1 is 2", function() tensor.stack({ tensor.ones(2), tensor.ones(3) }) end)
  raises("copy_: shapes 2x2 and 3 do not broadcast", function() tensor.ones(2, 2):copy_(tensor.ones(3)) end)
  raises("matmul", function() tensor.ones(2, 2, 2, 2):matmul(tensor.ones(2, 2)) end)
end)

test("dims and positions out of range", function()
  raises("dim 0 is invalid: dims are 1-based", function() tensor.ones(2):sum(0) end)
  raises("dim 3 out of range for a 2-dim tensor", function() tensor.ones(2, 2):sum(3) end)
  raises("dim -3 out of range", function() tensor.ones(2, 2):mean(-3) end)
  raises("position 3 is outside 1..2", function() tensor.ones(2, 2):select(1, 3) end)
  raises("narrow: positions 2..4 are outside dim 1 of size 3", function() tensor.ones(3):narrow(1, 2, 3) end)
  raises("index 5.0 is not an integer in 1..4", function() tensor.ones(4):index_select(1, { 1, 5 }) end)
  raises("index 1.5 is not an integer", function() tensor.ones(4):index_select(1, { 1.5 }) end)
  raises("permute: the dims are not a permutation", function() tensor.ones(2, 3):permute(1, 1) end)
  raises("permute: 3 dims given for a 2-dim tensor", function() tensor.ones(2, 3):permute(1, 2, 3) end)
  raises("a 0-dim tensor cannot be indexed", function() return tensor.from(1)[1] end)
end)

test("wrong types and bad sizes", function()
  raises("bad argument #1 to 'matmul' (Tensor expected, got string)", function() tensor.ones(2, 2):matmul("x") end)
  raises("add: expected a Tensor or number as argument 2, got string", function() return tensor.ones(2) + "a" end)
  raises("sizes must be non-negative", function() tensor.zeros(-1, 2) end)
  raises("sizes must be integers", function() tensor.zeros(1.5) end)
  raises("more than 8 dims", function() tensor.zeros(1, 1, 1, 1, 1, 1, 1, 1, 1) end)
  raises("tensor.from: ragged nested table", function() tensor.from { { 1, 2 }, { 3 } } end)
  raises("expected numbers or nested tables", function() tensor.from { "a" } end)
  raises("item: tensor of shape 2 has 2 elements, not 1", function() tensor.ones(2):item() end)
  raises("randint: high (3) must be greater than low (3)", function() tensor.randint(3, 3, { 2 }) end)
  raises("not an RNG state", function() tensor.set_rng_state("short") end)
  raises("an all-zero state is invalid", function() tensor.set_rng_state(string.rep("\0", 32)) end)
  raises("clamp: min 2 is greater than max 1", function() tensor.ones(2):clamp(2, 1) end)
  raises("norm: p = -1 is not supported", function() tensor.ones(2):norm(-1) end)
  local v = tensor.ones(1):var():item()
  check.truthy(v ~= v, "the unbiased variance of one value is NaN, as in PyTorch")
end)

test("a closed tensor cannot be used", function()
  local y
  do
    local x <close> = tensor.ones(3)
    y = x
  end
  raises("tensor has been closed", function() return y:sum() end)
  raises("tensor has been closed", function() return y + 1 end)
  check.eq(tostring(y), "tensor(<closed>)")
  local z = tensor.ones(2)
  getmetatable(z).__close(z)
  getmetatable(z).__gc(z) -- twice is harmless
  raises("tensor has been closed", function() return z:totable() end)
end)

test("autograd misuse is a clear error", function()
  raises("a gradient can be implied only for a one-element output; this one is 3",
    function() (tensor.ones(3):requires_grad() * 2):backward() end)
  raises("does not require grad", function() tensor.ones(1):backward() end)
  local x = tensor.from { 1, 2 }:requires_grad()
  local y = (x:exp() * 2):sum()
  y:backward()
  raises("retain_graph", function() y:backward() end)
  raises("in-place write to a leaf that requires grad", function() x:add_(1) end)
  autograd.no_grad(function() x:add_(1) end) -- fine inside no_grad
  local a = tensor.from { 1, 2 }:requires_grad()
  local h = a * 3
  local out = (h * h):sum()
  h:fill_(0)
  raises("modified in place after it was used", function() out:backward() end)
  raises("gradient of shape 3 for an output of shape 2", function()
    (tensor.ones(2):requires_grad() * 2):backward(tensor.ones(3)) end)
  raises("input 1 is not reachable from the outputs", function()
    autograd.grad((tensor.ones(1):requires_grad() * 2):sum(), tensor.ones(1):requires_grad()) end)
  raises("this tensor is the output of", function() (tensor.ones(1):requires_grad() * 2):requires_grad(false) end)
  raises("grad: a 3 gradient for a 2 tensor", function() local t = tensor.ones(2); t.grad = tensor.ones(3) end)
  raises("cannot set field 'foo'", function() local t = tensor.ones(2); t.foo = 1 end)
end)

test("the REPL-facing help and module errors do not crash", function()
  raises("Linear: expected a Tensor input with at least 1 dim, got string", function() nn.Linear(2, 2)("x") end)
  raises("load_state_dict", function() nn.Linear(2, 2):load_state_dict({ weight = tensor.ones(3, 3) }) end)
  raises("SGD: nesterov needs momentum > 0", function() optim.SGD(nn.Linear(2, 2):parameters(), { nesterov = true }) end)
  raises("expected a list of parameters", function() optim.Adam({}) end)
  raises("optim.Adam: option betas: expected a number < 1 in each entry, got {1.5, 0.9}", function() optim.Adam(nn.Linear(2, 2):parameters(), { betas = { 1.5, 0.9 } }) end)
  raises("Dropout: p must be in [0, 1]", function() nn.Dropout(2) end)
end)

-- sizes whose product overflows 64 bits are refused by name, not wrapped
test("reshape to a shape too large for 64 bits", function()
  local x = tensor.randn(2, 2, 2)
  check.raises(function() x:reshape(1e12, 1e12, -1) end, "reshape: shape 1000000000000x1000000000000x-1 is too large")
  check.raises(function() x:reshape(2 ^ 40, 2 ^ 40) end, "2x2x2")
end)

------------------------------------------------ the stdlib's argument checks
-- A bad call to a stdlib function raises an error that names the function
-- and the argument, positioned at the caller's line (here, this file) --
-- never a raw Lua error from inside stdlib/.

-- fn raises an error containing each of the strings, raised at fn's line
local function bad(fn, ...)
  local ok, err = pcall(fn)
  if ok then error("expected an error", 2) end
  err = tostring(err)
  for _, s in ipairs { ... } do
    if not err:find(s, 1, true) then error(string.format("error '%s' does not contain '%s'", err, s), 2) end
  end
  if not err:find("^[^:]*test_errors%.lua:%d+: ") then
    error(string.format("error '%s' does not point at the calling line", err), 2)
  end
end

local function scratch_dir()
  local d = os.tmpname()
  os.remove(d)
  assert(sys.mkdir(d))
  return d
end
local function listing(dir)
  local p = io.popen("ls -A '" .. dir .. "'")
  local s = p:read("a")
  p:close()
  return s
end

test("nn layers and modules check their arguments", function()
  bad(function() nn.Linear(-1, 2) end, "Linear: in_features must be a positive integer, got -1")
  bad(function() nn.Conv2d(1, 2, 0.5) end, "Conv2d: kernel_size must be an integer >= 1")
  bad(function() nn.ConvTranspose2d(1, 2, 3, { stride = 0 }) end, "nn.ConvTranspose2d: option stride: expected an integer >= 1, got 0")
  bad(function() nn.BatchNorm1d(math.maxinteger) end, "BatchNorm1d: tensor:", "too many")
  bad(function() nn.Dropout({}) end, "Dropout: p must be in [0, 1], got table")
  bad(function() nn.Dropout(0 / 0) end, "Dropout: p must be in [0, 1]")
  bad(function() nn.LayerNorm({ {} }) end, "LayerNorm: normalized_shape must be", "got table")
  bad(function() nn.Reshape("a") end, "Reshape: size 1 must be an integer, got string")
  bad(function() nn.Flatten(0) end, "Flatten: start_dim and end_dim")
  bad(function() nn.LeakyReLU("x") end, "LeakyReLU: negative_slope must be a number, got string")
  bad(function() nn.Sequential(3) end, "Sequential: expected a list of modules", "got number")
  bad(function() nn.Sequential { nn.ReLU(), {} } end, "Sequential: entry 2 is not a module")
  local seq = nn.Sequential { nn.Linear(2, 2), nn.Tanh() }
  bad(function() seq:add(tensor.ones(1)) end, "Sequential:add: argument 1 (module) must be an nn.Module, got Tensor")
  bad(function() seq:slice(1, math.maxinteger) end, "Sequential:slice:", "outside the 2 modules")
  bad(function() seq:slice("a") end, "Sequential:slice: i and j must be integers")
  bad(function() seq:apply(3) end, "apply: argument 1 (fn) must be a function or a module, got number")
  bad(function() seq:load_state_dict(true) end, "load_state_dict: argument 1 (state_dict) must be a table")
  bad(function() seq:add_module("x", 1) end, "add_module: argument 2 (module) must be an nn.Module, got number")
  bad(function() seq:add_module("a.b", nn.ReLU()) end, "add_module: name must be non-empty and without dots")
  bad(function() seq:register_parameter("training", tensor.ones(1)) end, "register_parameter: attribute 'training'")
  bad(function() seq:register_buffer(1, tensor.ones(1)) end, "register_buffer: argument 1 (name) must be a string")
  bad(function() nn.Linear(2, 3)(tensor.ones(4, 5)) end, "linear: input 4x5 has 5 features, weight 3x2 expects 2")
  bad(function() nn.ReLU()("x") end, "ReLU: expected a Tensor input, got string")
  bad(function() nn.Dropout()(nil) end, "Dropout: expected a Tensor input, got nil")
  bad(function() nn.LayerNorm(3)(tensor.ones(3):sum()) end, "LayerNorm: expected a Tensor input with at least 1 dims")
  bad(function() nn.Upsample { scale_factor = 2 }(tensor.ones(2, 2)) end, "Upsample: expected an N x C x H x W tensor, got 2x2")
  bad(function() nn.Flatten(3)(tensor.ones(2, 2)) end, "Flatten: dims 3..-1 do not fit a 2x2 input")
  bad(function() nn.Reshape(5)(tensor.ones(2, 3)) end, "view: shape 2x5 is invalid for 2x3")
  bad(function() nn.Embedding(3, 2)({ 0 }) end, "Embedding: index_select: index 0.0 is not an integer in 1..3")
  bad(function() nn.Embedding(3, 2)("a") end, "Embedding: expected indices", "got string")
  bad(function() nn.utils.spectral_norm(tensor.ones(2, 2)) end,
    "nn.utils.spectral_norm: argument 1 (module) must be an nn.Module, got Tensor")
  -- inside a container, a layer's message still names the layer
  check.raises(function() seq(tensor.ones(2, 5)) end, "linear: input 2x5 has 5 features")
end)

test("nn.init checks its arguments", function()
  local w = tensor.empty(3, 4)
  bad(function() nn.init.xavier_uniform_({}) end, "nn.init.xavier_uniform_: argument 1 (tensor) must be a Tensor, got table")
  bad(function() nn.init.xavier_uniform_(w, {}) end, "nn.init.xavier_uniform_: argument 2 (gain) must be a number")
  bad(function() nn.init.xavier_uniform_(w, -1) end, "nn.init.xavier_uniform_: argument 2 (gain) must be a non-negative")
  bad(function() nn.init.xavier_normal_(tensor.ones(3)) end, "nn.init.xavier_normal_: fan in/out need", "at least 2 dims")
  bad(function() nn.init.kaiming_uniform_("w") end, "nn.init.kaiming_uniform_: argument 1 (tensor) must be a Tensor")
  bad(function() nn.init.kaiming_normal_(w, 3) end, "nn.init.kaiming_normal_: argument 2 must be an options table")
  bad(function() nn.init.kaiming_normal_(w, { mode = "x" }) end, "nn.init.kaiming_normal_: option mode: expected one of \"fan_in\", \"fan_out\", got \"x\"")
  bad(function() nn.init.kaiming_uniform_(tensor.ones(3)) end, "nn.init.kaiming_uniform_: fan in/out need")
  bad(function() nn.init.uniform_(w, "a") end, "nn.init.uniform_: argument 2 (a) must be a number, got string")
  bad(function() nn.init.uniform_(w, 2, 1) end, "nn.init.uniform_: the bounds must satisfy a <= b")
  bad(function() nn.init.normal_(w, 0, -1) end, "nn.init.normal_: argument 3 (std) must be a non-negative number")
  bad(function() nn.init.constant_(w) end, "nn.init.constant_: argument 2 (value) must be a number, got nil")
  bad(function() nn.init.zeros_(1) end, "nn.init.zeros_: argument 1 (tensor) must be a Tensor, got number")
  bad(function() nn.init.ones_(nil) end, "nn.init.ones_: argument 1 (tensor) must be a Tensor, got nil")
  bad(function() nn.init.dcgan_(tensor.ones(2)) end, "nn.init.dcgan_: argument 1 (model) must be an nn.Module, got Tensor")
  bad(function() nn.init.calculate_gain("leaky_relu", {}) end, "nn.init.calculate_gain: argument 2 (a) must be a number")
  nn.init.xavier_uniform_(tensor.empty(0, 3)) -- nothing to fill is fine
end)

test("losses check their arguments", function()
  local x = tensor.randn(4, 1)
  bad(function() losses.hinge_d(x, "abc") end, "hinge_d: argument 2 (d_fake) must be a non-empty Tensor", "got string")
  bad(function() losses.hinge_g(nil) end, "hinge_g: argument 1 (d_fake)")
  bad(function() losses.wasserstein_d({}, x) end, "wasserstein_d: argument 1 (d_real)", "got table")
  bad(function() losses.wasserstein_g(tensor.zeros(0)) end, "wasserstein_g: argument 1 (d_fake) must be a non-empty Tensor")
  bad(function() losses.gaussian_nll(x, x) end, "gaussian_nll: argument 3 (var) must be a number or a Tensor, got nil")
  bad(function() losses.gaussian_nll(x, x, tensor.ones(3)) end, "gaussian_nll: var 3 does not match input 4x1")
  bad(function() losses.gradient_penalty(true, x, x) end, "gradient_penalty: argument 1 (D) must be a function or a module")
  bad(function() losses.gradient_penalty(nn.Linear(1, 1), x, tensor.randn(4, 2)) end,
    "gradient_penalty: real 4x1 and fake 4x2 must be batches")
  bad(function() losses.gradient_penalty(function() return 1 end, x, x) end, "gradient_penalty: D returned number")
  bad(function() losses.kl_div(x, { 1 }) end, "kl_div: argument 2 (target) must be a Tensor, got table")
  bad(function() losses.kl_div(x, tensor.ones(3)) end, "kl_div: target 3 does not match input 4x1")
  bad(function() losses.feature_matching(x, tensor.ones(2, 3)) end, "feature_matching: f_real 4x1 and f_fake 2x3")
  bad(function() losses.nll(1, { 1 }) end, "nll: input must be a Tensor, got number")
  bad(function() losses.cross_entropy(tensor.randn(2, 3), "ab") end, "cross_entropy: target must be a Tensor or a table")
  bad(function() losses.cross_entropy(tensor.randn(2, 3), { 1, 4 }) end, "cross_entropy: one_hot")
  bad(function() losses.cross_entropy(tensor.randn(2, 3), { 1, 2 }, { label_smoothing = "x" }) end,
    "losses.cross_entropy: option label_smoothing: expected a number, got string")
  bad(function() losses.mse(tensor.zeros(0), 0) end, "mse: the mean of an empty input")
  bad(function() losses.l1(x, 0, { reduction = "avg" }) end, "losses.l1: option reduction: expected one of")
  -- a one-element target broadcasts, as a number does
  check.near(losses.mse(tensor.ones(3, 2), tensor.from { 2 }):item(), 1)
  check.near(losses.bce(tensor.full({ 2, 2 }, 0.5), tensor.from { 1 }):item(), math.log(2), 1e-5)
end)

test("autograd.gradcheck and gradgradcheck check their arguments", function()
  local x = tensor.randn(3)
  bad(function() autograd.gradcheck(x, x) end, "autograd.gradcheck: argument 1 (fn) must be a function or a module, got Tensor")
  bad(function() autograd.gradcheck(function(a) return a end, 3) end,
    "autograd.gradcheck: argument 2 (inputs) must be a Tensor or a list of Tensors, got number")
  bad(function() autograd.gradcheck(function(a) return a end, x, 1) end, "autograd.gradcheck: argument 3 must be an options table")
  bad(function() autograd.gradcheck(function(a) return a end, x, { eps = "x" }) end, "autograd.gradcheck: option eps: expected a number, got string")
  bad(function() autograd.gradgradcheck(io.stdout, x) end, "autograd.gradgradcheck: argument 1 (fn)")
  bad(function() autograd.gradgradcheck(function(a) return a * a end, { x, 2 }) end, "autograd.gradgradcheck: argument 2 (inputs)")
end)

test("data checks its arguments", function()
  bad(function() data.gaussian_ring(3) end, "data.gaussian_ring: argument 1 must be an options table, got number")
  bad(function() data.gaussian_ring { radius = "x" } end, "data.gaussian_ring: option radius: expected a number, got string")
  bad(function() data.gaussian_grid(print) end, "data.gaussian_grid: argument 1 must be an options table, got function")
  bad(function() data.mnist(1) end, "data.mnist: argument 1 must be an options table, got number")
  bad(function() data.mnist { dir = 5 } end, "data.mnist: option dir: expected a string, got number")
  bad(function() data.write_csv("x", "a.csv") end, "data.write_csv: argument 1 (x) must be a Tensor, got string")
  bad(function() data.write_csv(tensor.ones(2), 3) end, "data.write_csv: argument 2 (path) must be a string, got number")
  bad(function() data.write_csv(tensor.ones(2), "a.csv", {}) end, "data.write_csv: argument 3 (header) must be a string")
  bad(function() data.read_csv(nil) end, "data.read_csv: argument 1 (path) must be a string, got nil")
  bad(function() data.dataset(tensor.ones(2), tensor.from(1)) end, "data.dataset: labels must be a Tensor")
  local ds = data.dataset(tensor.ones(4, 2))
  bad(function() ds:num_batches(0.5) end, "num_batches: batch size must be a positive integer")
  bad(function() ds:batches(2, 3) end, "batches: argument 2 must be an options table")
end)

test("data.write_csv validates before writing and leaves no temporary file", function()
  local dir = scratch_dir()
  local path = dir .. "/a4"
  bad(function() data.write_csv(tensor.randn(2, 2, 2), path) end,
    "data.write_csv: argument 1 (x) must be an N or N x d Tensor, got a 2x2x2 Tensor")
  bad(function() data.write_csv(tensor.from(1), path) end, "got a 0-dim Tensor")
  bad(function() data.write_csv(tensor.ones(2), path, 7) end, "argument 3 (header)")
  check.eq(listing(dir), "", "nothing written")
  -- a failure after the temporary file exists (the rename onto a directory)
  -- raises, naming the path and the reason, at this line, and removes it
  assert(sys.mkdir(path))
  bad(function() data.write_csv(tensor.ones(3, 2), path) end, "test_errors.lua:260: write_file: cannot write " .. path .. ": Is a directory")
  check.eq(listing(dir), "a4\n", "only the directory that was in the way")
  -- a directory that does not exist: raises, nothing left
  bad(function() data.write_csv(tensor.ones(3, 2), dir .. "/no/such.csv") end, "No such file or directory")
  -- and a good write leaves just the file
  os.execute("rm -rf '" .. path .. "'")
  assert(data.write_csv(tensor.ones(3, 2), path, "x,y"))
  check.eq(listing(dir), "a4\n")
  check.allclose(data.read_csv(path), tensor.ones(3, 2))
  os.execute("rm -rf '" .. dir .. "'")
end)

test("log.write_file and write_json validate before writing and leave no temporary file", function()
  local dir = scratch_dir()
  bad(function() log.write_file(dir .. "/f", {}) end, "log.write_file: argument 2 (text) must be a string, got table")
  bad(function() log.write_file(nil, "x") end, "log.write_file: argument 1 (path) must be a string, got nil")
  bad(function() log.write_json(dir .. "/j", { f = print }) end, "log.write_json: json.encode: cannot encode a function")
  bad(function() log.write_json(false, {}) end, "log.write_json: argument 1 (path) must be a string, got boolean")
  check.eq(listing(dir), "", "nothing written")
  assert(sys.mkdir(dir .. "/d"))
  bad(function() log.write_json(dir .. "/d", { 1 }) end, "cannot write " .. dir .. "/d: Is a directory")
  check.eq(listing(dir), "d\n", "the temporary file is gone")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("metrics check their arguments", function()
  local clf = metrics.MnistClassifier()
  local imgs = tensor.rand(4, 1, 28, 28)
  bad(function() metrics.fid({}, imgs, clf) end, "metrics.fid: argument 1 (real) must be N x 784 or N x C x H x W images, got table")
  bad(function() metrics.fid(imgs, tensor.ones(4, 5), clf) end, "metrics.fid: argument 2 (fake)", "got 4x5")
  bad(function() metrics.fid(imgs, imgs, function() end) end, "metrics.fid: argument 3 (classifier) must be a classifier")
  bad(function() metrics.inception_score(imgs, "c") end, "metrics.inception_score: argument 2 (classifier)", "got string")
  bad(function() metrics.inception_score(imgs, clf, 3) end, "metrics.inception_score: argument 3 must be an options table")
  bad(function() metrics.inception_score(imgs, function() return 1 end, { splits = 2 }) end,
    "inception_score: the classifier must return an N x k Tensor")
  bad(function() metrics.accuracy(tensor.ones(1), imgs, { 1, 2, 3, 4 }) end,
    "metrics.accuracy: argument 1 (classifier) must be a function or a module, got Tensor")
  bad(function() metrics.accuracy(clf, imgs, { 1, 2 }) end, "metrics.accuracy: argument 3 (labels) must hold one class per image")
  bad(function() metrics.pairwise_distance({}) end, "metrics.pairwise_distance: argument 1 (x) must be an N x ... Tensor")
  bad(function() metrics.diversity(imgs, 5) end, "metrics.diversity: argument 2 (real)", "got number")
  bad(function() metrics.modes(tensor.ones(3, 2), tensor.ones(2, 2), 1, 5) end, "metrics.modes: argument 4 must be an options table")
  bad(function() metrics.load_mnist_classifier(3) end, "metrics.load_mnist_classifier: argument 1 (path) must be a string")
  bad(function() metrics.load_mnist_classifier("/nonexistent/clf.safetensors") end, "metrics.load_mnist_classifier: ckpt.load:")
  check.eq(metrics.pairwise_distance(tensor.ones(1, 3)), 0)
end)

test("plot, image, json, ckpt and optim check their arguments", function()
  local s = tensor.randn(10, 2)
  bad(function() plot.ticks({}, 1) end, "plot.ticks: argument 1 (lo) must be a number, got table")
  bad(function() plot.ticks(0, 1, -1) end, "plot.ticks: argument 3 (n) must be a positive number")
  bad(function() plot.scatter(s, true) end, "plot.scatter: argument 2 (path) must be a string, got boolean")
  bad(function() plot.kde(3, "k.png") end, "plot: samples must be an N x 2 Tensor, got number")
  bad(function() plot.kde(s, "k.png", { size = { 10, 10 } }) end, "plot.kde: option size: expected {w, h}, integers in 200..16384")
  bad(function() plot.scatter(s, "s.png", { centers = {} }) end, "plot.scatter: option centers: expected a Tensor, got table")
  bad(function() plot.lines({ 1 }, "l.png") end, "plot.lines: series 1 must be a table")
  bad(function() plot.lines({ { y = { 1, "a" } } }, "l.png") end, "plot.lines: series 1: x and y must hold numbers")
  bad(function() plot.lines({ { y = { 1 } } }, "l.png", 3) end, "plot.lines: argument 3 must be an options table")
  bad(function() plot.panels({ 1 }, "p.png") end, "plot.panels: row 1 must be a table")
  bad(function() plot.panels({ { panels = { { samples = 1 } } } }, "p.png") end, "plot: panel samples must be an N x 2 Tensor")
  bad(function() plot.kde1d(1, 2) end, "plot.kde1d: argument 1 (values) must be a Tensor, got number")
  bad(function() image.make_grid("x") end, "image.make_grid: argument 1 (images) must be a Tensor, got string")
  bad(function() image.make_grid(tensor.ones(2, 2, 2, 2)) end, "make_grid: images need 1 or 3 channels, got 2")
  bad(function() image.save_grid(tensor.ones(1, 1, 2, 2), {}) end, "image.save_grid: argument 2 (path) must be a string")
  bad(function() image.save({}, "x.png") end, "image.save: argument 1 (image) must be a Tensor, got table")
  bad(function() image.save(tensor.ones(2, 2), 1) end, "image.save: argument 2 (path) must be a string")
  bad(function() image.animation():save("a.gif", { delay = "x" }) end, "animation:save: option delay: expected a number")
  bad(function() json.decode({}) end, "json.decode: argument 1 must be a string, got table")
  bad(function() json.encode({ a = { b = print } }) end, "json.encode: cannot encode a function")
  bad(function() ckpt.read(true) end, "ckpt.read: argument 1 (path) must be a string, got boolean")
  bad(function() ckpt.load({}) end, "ckpt.load: argument 1 (path) must be a string, got table")
  bad(function() ckpt.load("c.safetensors", 3) end, "ckpt.load: argument 2 (targets) must be a table")
  bad(function() ckpt.save("c.safetensors", { f = print }) end, "ckpt.save: json.encode: cannot encode a function")
  bad(function() optim.clip_weights("m", 0.01) end, "clip_weights: argument 1 (model) must be an nn.Module, got string")
  bad(function() optim.clip_weights(nn.Linear(2, 2), 0 / 0) end, "clip_weights: c must be a positive number")
  bad(function() plot.kde(tensor.full({ 3, 2 }, 0 / 0), "k.png") end, "plot: samples hold NaN or infinite values")
  bad(function() plot.scatter(tensor.from { { 1, math.huge } }, "k.png") end, "plot: samples hold NaN or infinite values")
  bad(function() optim.SGD(nn.Linear(2, 2), { momentum = "x" }) end, "optim.SGD: option momentum: expected a number, got string")
  bad(function() optim.RMSprop({ 1 }) end, "RMSprop: parameter 1 is not a Tensor")
  bad(function() optim.Adam(nn.Linear(2, 2), { betas = { "a", 1 } }) end, "optim.Adam: option betas: expected a list of 2 numbers, got {\"a\", 1}")
  local opt = optim.SGD(nn.Linear(2, 2))
  bad(function() opt:load_state_dict({ state = { 1, 2 } }) end, "SGD.load_state_dict: state 1 is not a table")
  bad(function() opt:load_state_dict({ state = { {}, {} }, options = { lr = "x" } }) end,
    "SGD.load_state_dict: option lr: expected a number, got string")
end)

-- one mechanism (argcheck.raise and the bindings' gl_lua_where) points every
-- error at the script's line, however deep inside ganlua it was found
test("errors point at the script's line, from Lua checks and from C alike", function()
  local function at(fn, line)
    local ok, err = pcall(fn)
    check.truthy(not ok, "expected an error")
    check.truthy(tostring(err):find("^tests/lua/test_errors.lua:" .. line .. ": "), tostring(err))
    return tostring(err)
  end
  local here = debug.getinfo(1, "l").currentline
  at(function() nn.Linear(0, 3) end, here + 1) -- a Lua check, two frames down
  at(function() nn.Conv2d(1, 1, 3, { stride = 0 }) end, here + 2) -- four frames down
  local e = at(function() losses.cross_entropy(tensor.zeros(2, 3), { { 1 }, { 1, 2 } }) end, here + 3) -- C, via the stdlib
  check.truthy(e:find("cross_entropy: tensor.from: ragged", 1, true), e)
  at(function() tensor.ones(2, 3):matmul(tensor.ones(2, 3)) end, here + 5) -- C, called directly
  e = at(function() nn.BatchNorm1d(math.maxinteger // 2) end, here + 6) -- C inside a layer's alloc
  check.truthy(not e:find("stdlib/", 1, true) and select(2, e:gsub("test_errors.lua:", "")) == 1, "one position: " .. e)
  at(function() ckpt.save("/nonexistent/c.safetensors", { step = 1 }) end, here + 8) -- a failed write
end)
