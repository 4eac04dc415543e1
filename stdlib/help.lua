-- ganlua.help: help(x) prints a one-line summary and the signature of a
-- ganlua function, module or class; help() lists the modules.
local core = require "ganlua.core"
local T = core.tensor

local docs = {
  -- tensor
  ["tensor.zeros"] = "tensor.zeros(d1, ..., dn [, {requires_grad=}]) / zeros({d1, ...}) -- a tensor of zeros",
  ["tensor.ones"] = "tensor.ones(d1, ..., dn) -- a tensor of ones",
  ["tensor.full"] = "tensor.full({d1, ...}, value) -- a tensor filled with value",
  ["tensor.empty"] = "tensor.empty(d1, ..., dn) -- an uninitialised tensor",
  ["tensor.rand"] = "tensor.rand(d1, ..., dn) -- uniform on [0, 1), from the seeded RNG",
  ["tensor.randn"] = "tensor.randn(d1, ..., dn) -- standard normal, from the seeded RNG",
  ["tensor.randint"] = "tensor.randint([low,] high, {size}) -- integers in [low, high) as floats",
  ["tensor.randperm"] = "tensor.randperm(n) -- a random permutation of 1..n",
  ["tensor.arange"] = "tensor.arange([start,] stop [, step]) -- start, start+step, ... below stop",
  ["tensor.linspace"] = "tensor.linspace(a, b, steps) -- steps points from a to b inclusive",
  ["tensor.eye"] = "tensor.eye(n [, m]) -- identity matrix",
  ["tensor.from"] = "tensor.from(nested_table | number | tensor) -- a tensor from Lua values (copying a tensor)",
  ["tensor.one_hot"] = "tensor.one_hot(classes, n) -- 1-based classes to N x n one-hot rows",
  ["tensor.cat"] = "tensor.cat({t1, t2, ...} [, dim=1]) -- concatenate along dim",
  ["tensor.stack"] = "tensor.stack({t1, t2, ...} [, dim=1]) -- stack along a new dim",
  ["tensor.manual_seed"] = "tensor.manual_seed(n) -- seed the RNG (same seed, same run)",
  ["tensor.get_rng_state"] = "tensor.get_rng_state() -> string -- the RNG's 32-byte state",
  ["tensor.set_rng_state"] = "tensor.set_rng_state(s) -- restore a state from get_rng_state",
  ["tensor.set_num_threads"] = "tensor.set_num_threads(n) -- BLAS threads",
  ["tensor.memory"] = "tensor.memory() -> {live_bytes, cached_bytes, peak_bytes, mallocs, allocs}",
  ["size"] = "x:size([dim]) -- the shape as a table, or one dim's size",
  ["reshape"] = "x:reshape(d1, ..., dn) / x:view(...) -- same data, new shape (one -1 inferred)",
  ["matmul"] = "a:matmul(b) -- matrix product: 2-D, batched 3-D, 3-D @ 2-D, vectors",
  ["sum"] = "x:sum([dim [, keepdim]]) -- sum of all elements (0-dim) or over dim",
  ["mean"] = "x:mean([dim [, keepdim]]) -- mean of all elements or over dim",
  ["max"] = "x:max([dim [, keepdim]]) -- largest element, or values and 1-based indices over dim",
  ["norm"] = "x:norm([p=2 [, dim [, keepdim]]]) -- p-norm of all elements or over dim",
  ["softmax"] = "x:softmax([dim=-1]) -- exp(x) / sum exp(x) over dim",
  ["backward"] = "y:backward([grad] [, {retain_graph=, create_graph=}]) -- accumulate dy/dx into x.grad",
  ["requires_grad"] = "x:requires_grad([flag=true]) -> x -- make x a leaf that records gradients",
  ["detach"] = "x:detach() -- the same values, cut from the graph",
  ["narrow"] = "x:narrow(dim, start, length) -- a slice (a view along dim 1, else a copy that refuses writes)",
  ["index_fill_"] = "x:index_fill_(dim, indices, v) -- set the slices at 1-based indices to v, in place",
  ["index_copy_"] = "x:index_copy_(dim, indices, src) -- copy src's slices to the 1-based indices, in place",
  ["contiguous"] = "x:contiguous() -- x (always contiguous); a copy made by t/narrow/... becomes writable",
  ["select"] = "x:select(dim, index) -- one slice, the dim removed; x[i] is x:select(1, i)",
  ["index_select"] = "x:index_select(dim, indices) -- rows at 1-based indices (table or tensor)",
  -- tensor methods (help("name") or help(x.name))
  ["abs"] = "x:abs() -- |x| elementwise",
  ["add"] = "a:add(b) / a + b -- elementwise sum, broadcasting (b a tensor or a number)",
  ["sub"] = "a:sub(b) / a - b -- elementwise difference, broadcasting",
  ["mul"] = "a:mul(b) / a * b -- elementwise product, broadcasting",
  ["div"] = "a:div(b) / a / b -- elementwise quotient, broadcasting",
  ["pow"] = "a:pow(b) / a ^ b -- elementwise power (b a tensor or a number)",
  ["neg"] = "x:neg() / -x -- negation",
  ["add_"] = "x:add_(y [, alpha=1]) -- x += alpha y in place",
  ["sub_"] = "x:sub_(y [, alpha=1]) -- x -= alpha y in place",
  ["mul_"] = "x:mul_(y) -- x *= y in place (a tensor or a number)",
  ["div_"] = "x:div_(y) -- x /= y in place (a tensor or a number)",
  ["copy_"] = "x:copy_(src) -- src's values into x, in place (same number of elements)",
  ["fill_"] = "x:fill_(v) -- every element set to v, in place",
  ["zero_"] = "x:zero_() -- every element set to 0, in place",
  ["clamp_"] = "x:clamp_(lo, hi) -- clamp in place",
  ["normal_"] = "x:normal_([mean=0, std=1]) -- fill from N(mean, std^2), in place",
  ["uniform_"] = "x:uniform_([a=0, b=1]) -- fill from U(a, b), in place",
  ["clamp"] = "x:clamp(lo, hi) -- values limited to [lo, hi] (math.huge for no bound)",
  ["argmax"] = "x:argmax([dim]) -- 1-based index of the largest element, or along dim",
  ["argmin"] = "x:argmin([dim]) -- 1-based index of the smallest element, or along dim",
  ["min"] = "x:min([dim [, keepdim]]) -- smallest element, or values and 1-based indices over dim",
  ["maximum"] = "a:maximum(b) -- elementwise max of two tensors (the gradient split at ties)",
  ["minimum"] = "a:minimum(b) -- elementwise min of two tensors",
  ["clone"] = "x:clone() -- a copy with its own storage (differentiable)",
  ["dim"] = "x:dim() -- the number of dims",
  ["numel"] = "x:numel() -- the number of elements",
  ["item"] = "x:item() -- the value of a one-element tensor, as a number",
  ["totable"] = "x:totable() -- nested Lua tables of the values",
  ["eq"] = "a:eq(b) -- 1 where a == b, else 0 (also ne, lt, le, gt, ge)",
  ["ne"] = "a:ne(b) -- 1 where a ~= b, else 0",
  ["lt"] = "a:lt(b) -- 1 where a < b, else 0",
  ["le"] = "a:le(b) -- 1 where a <= b, else 0",
  ["gt"] = "a:gt(b) -- 1 where a > b, else 0",
  ["ge"] = "a:ge(b) -- 1 where a >= b, else 0",
  ["exp"] = "x:exp() -- e^x elementwise",
  ["log"] = "x:log() -- natural log elementwise",
  ["sqrt"] = "x:sqrt() -- square root elementwise",
  ["sign"] = "x:sign() -- -1, 0 or 1 elementwise",
  ["relu"] = "x:relu() -- max(x, 0)",
  ["leaky_relu"] = "x:leaky_relu([slope=0.01]) -- x, or slope x below 0",
  ["sigmoid"] = "x:sigmoid() -- 1 / (1 + e^-x)",
  ["tanh"] = "x:tanh() -- hyperbolic tangent",
  ["softplus"] = "x:softplus([beta=1, threshold=20]) -- log(1 + e^(beta x)) / beta, linear above threshold",
  ["log_softmax"] = "x:log_softmax([dim=-1]) -- log of softmax, computed stably",
  ["logsumexp"] = "x:logsumexp(dim [, keepdim]) -- log sum exp over dim, computed stably",
  ["var"] = "x:var([dim [, keepdim]] [, {unbiased=true}]) -- variance of all elements or over dim",
  ["std"] = "x:std([dim [, keepdim]] [, {unbiased=true}]) -- standard deviation of all elements or over dim",
  ["expand"] = "x:expand(d1, ..., dn) -- size-1 dims repeated to the given sizes (a copy)",
  ["flatten"] = "x:flatten([start_dim=1 [, end_dim=-1]]) -- dims start..end merged into one",
  ["permute"] = "x:permute(d1, ..., dn) -- dims reordered (a copy)",
  ["transpose"] = "x:transpose(d0, d1) -- two dims swapped (a copy)",
  ["t"] = "x:t() -- a 2-D tensor transposed",
  ["squeeze"] = "x:squeeze([dim]) -- size-1 dims removed",
  ["unsqueeze"] = "x:unsqueeze(dim) -- a size-1 dim inserted at dim",
  ["view"] = "x:view(d1, ..., dn) -- same data, new shape (as reshape)",
  ["is_requires_grad"] = "x:is_requires_grad() -- whether x records gradients",
  ["tensor.is_tensor"] = "tensor.is_tensor(v) -- whether v is a Tensor",
  ["tensor.get_num_threads"] = "tensor.get_num_threads() -- the BLAS thread count",
  ["nn.init.calculate_gain"] = "nn.init.calculate_gain(nonlinearity [, a]) -- PyTorch's recommended gain (relu sqrt 2, tanh 5/3, ...)",
  ["nn.init.uniform_"] = "nn.init.uniform_(t [, a=0, b=1]) -- fill from U(a, b)",
  ["nn.init.normal_"] = "nn.init.normal_(t [, mean=0, std=1]) -- fill from N(mean, std^2)",
  ["nn.init.constant_"] = "nn.init.constant_(t, v) -- fill with v",
  ["nn.init.zeros_"] = "nn.init.zeros_(t) -- fill with 0",
  ["nn.init.ones_"] = "nn.init.ones_(t) -- fill with 1",
  ["nn.init.xavier_uniform_"] = "nn.init.xavier_uniform_(t [, gain=1]) -- U(+-gain sqrt(6 / (fan_in + fan_out)))",
  ["nn.init.xavier_normal_"] = "nn.init.xavier_normal_(t [, gain=1]) -- N(0, gain^2 2 / (fan_in + fan_out))",
  ["nn.init.kaiming_uniform_"] = "nn.init.kaiming_uniform_(t [, {a=0, mode=\"fan_in\", nonlinearity=\"leaky_relu\"}]) -- He et al.'s uniform",
  ["nn.init.kaiming_normal_"] = "nn.init.kaiming_normal_(t [, {a=0, mode=\"fan_in\", nonlinearity=\"leaky_relu\"}]) -- He et al.'s normal",
  -- autograd
  ["autograd.enable_grad"] = "autograd.enable_grad(fn, ...) -- run fn recording a graph (inside no_grad)",
  ["autograd.is_grad_enabled"] = "autograd.is_grad_enabled() -- whether ops record a graph now",
  ["autograd.set_grad_enabled"] = "autograd.set_grad_enabled(flag) -> previous -- turn recording on or off",
  -- nn
  ["nn.Identity"] = "nn.Identity() -- its input, unchanged",
  ["nn.Flatten"] = "nn.Flatten([start_dim=2, end_dim=-1]) -- 1-based: PyTorch's Flatten() is Flatten(2)",
  ["nn.Reshape"] = "nn.Reshape(d1, ..., dn) -- x:reshape(N, d1, ..., dn), the batch dim kept",
  ["nn.ReLU"] = "nn.ReLU() -- max(x, 0)",
  ["nn.Sigmoid"] = "nn.Sigmoid() -- 1 / (1 + e^-x)",
  ["nn.Tanh"] = "nn.Tanh() -- tanh(x)",
  ["nn.Softplus"] = "nn.Softplus([beta=1, threshold=20]) -- log(1 + e^(beta x)) / beta",
  -- data
  ["data.root"] = "data.root(sub) -> dir, places -- where a data set is: $GANLUA_DATA/sub, ./data/sub, data/ beside the executable, share/ganlua/data",
  ["data.dir_option"] = "data.dir_option(what) -- the cli.options entry of a script's --data-dir",
  ["data.write_csv"] = "data.write_csv(x, path [, header]) -> true -- an N or N x d tensor as CSV, atomically; raises on failure",
  ["data.read_csv"] = "data.read_csv(path) -> N x d tensor -- a CSV of numbers (a header line is skipped)",
  -- image
  ["image.make_grid"] = "image.make_grid(x, {nrow=8, padding=2, normalize=false, range=}) -- N x C x H x W to one C x H' x W' image",
  ["image.save"] = "image.save(t, path) -- a C x H x W (or H x W) tensor in [0, 1] as PNG, atomically; raises on failure",
  -- json
  ["json.encode"] = "json.encode(v) -> string -- tables, numbers (non-finite as null), strings, booleans",
  ["json.decode"] = "json.decode(s) -> value -- JSON text to Lua values (null as nil)",
  -- ckpt
  ["ckpt.manager"] = "ckpt.manager(dir [, {keep=3, best=\"metric\", mode=\"max\"}]) -- m:save(step, items, metrics) keeps the last K and the best; m:latest(), m:best()",
  ["ckpt.read"] = "ckpt.read(path) -> {tensors=, names=, metadata=} or nil, msg -- any safetensors file's raw contents",
  -- cli
  ["cli.options"] = "cli.options{name = default | {default, \"description\", choices=, type=, min=, ...}} -- parse arg; --help, --seed, --out, --threads",
  ["cli.parse"] = "cli.parse(spec, argv [, script]) -> opts or nil, msg -- cli.options without exiting or seeding",
  ["cli.usage"] = "cli.usage(spec [, script]) -- the --help text",
  ["cli.describe"] = "cli.describe(opts) -- the resolved options without private fields (for config.json)",
  -- log
  ["log.run"] = "log.run(opts [, {every=1000, quiet=false, report=false}]) -> run -- opts.out with config.json, metrics.jsonl; run:scalar, run:step, run:report",
  ["log.scalar"] = "log.scalar(name, x) -- run:scalar on the current run",
  ["log.step"] = "log.step(n [, extra]) -- run:step on the current run",
  ["log.write_file"] = "log.write_file(path, text) -> true -- atomic (temporary file, fsync, rename); raises on failure",
  ["log.write_json"] = "log.write_json(path, value) -> true -- a JSON file, atomically; raises on failure",
  -- metrics
  ["metrics.pairwise_distance"] = "metrics.pairwise_distance(x) -- the mean Euclidean distance between rows of x (a number)",
  ["metrics.diversity"] = "metrics.diversity(fake, real) -- fake's mean pairwise distance over real's: near 1 healthy, near 0 collapsed",
  ["metrics.MnistClassifier"] = "metrics.MnistClassifier() -- the small CNN behind the MNIST scores (two stride-2 convs, 128 features)",
  ["metrics.load_mnist_classifier"] = "metrics.load_mnist_classifier(path) -- a checkpoint of scripts/mnist_classifier.lua, in eval mode",
  ["metrics.accuracy"] = "metrics.accuracy(classifier, x, labels) -- percent of x classified as its 1-based labels",
  -- plot
  ["plot.kde"] = "plot.kde(samples, path [, {centers=, title=, xlim=, ylim=, size={w, h}, cmap=\"Greens\", grid=200}]) -- 2-D KDE",
  ["plot.kde1d"] = "plot.kde1d(values, grid) -> densities -- a 1-D Gaussian KDE of values at the grid points",
  ["plot.scatter"] = "plot.scatter(samples, path [, {centers=, title=, xlim=, ylim=, size=, alpha=0.25, radius=1.6}])",
  ["plot.lines"] = "plot.lines({{name=, x=, y=, lo=, hi=, color=}, ...}, path [, {title, xlabel, ylabel, ylog, ylim, xlim}]) -- curves, bands",
  ["plot.panels"] = "plot.panels({{label=, panels={{samples=, title=}, ...}}, ...}, path [, {centers=, xlim=, ylim=}]) -- KDE panel grid",
  ["plot.ticks"] = "plot.ticks(lo, hi [, n]) -- 1-2-5 tick values covering [lo, hi]",
  -- sweep
  ["report.run"] = "report.run(dir [, {out=dir..\"/report.html\", status=, x=\"step\"|\"epoch\"}]) -> path -- one self-contained HTML page of a run",
  ["report.compare"] = "report.compare(dirs, {out=, metric=, title=, x=}) -> path -- a page comparing runs: differing options, final metrics, overlaid curves",
  ["report.runs_in"] = "report.runs_in(dir) -> {subdir, ...} -- the run directories (with config.json) directly below dir, sorted",
  ["report.main"] = "report.main(args) -- the `ganlua report DIR... [--out DIR] [--metric NAME] [--x step|epoch]` command",
  ["dist.launched"] = "dist.launched() -- whether mpirun or srun started this process (else it is rank 0 of 1, without MPI)",
  ["dist.launch_env"] = "dist.launch_env() -> {NAME, ...} -- the launcher's environment variables (a child must not inherit them)",
  ["dist.rank"] = "dist.rank() -- this process's rank, 0-based",
  ["dist.size"] = "dist.size() -- the number of ranks (1 without mpirun)",
  ["dist.is_main"] = "dist.is_main() -- rank 0: the one that writes files",
  ["dist.barrier"] = "dist.barrier() -- wait until every rank gets here",
  ["dist.allreduce"] = "dist.allreduce(t | {t1, ...} [, \"sum\"|\"mean\"|\"max\"|\"min\"]) -> t -- over all ranks, in place",
  ["dist.broadcast"] = "dist.broadcast(t | {t1, ...} [, root=0]) -> t -- root's values on every rank, in place",
  ["dist.gather"] = "dist.gather(value [, root=0]) -> {v0, v1, ...} on root, nil elsewhere -- small Lua values (JSON)",
  ["dist.broadcast_value"] = "dist.broadcast_value(v [, root=0]) -> root's v on every rank -- small Lua values (JSON)",
  ["dist.sum"] = "dist.sum(t) -> a new tensor, t summed over the ranks; differentiable (its backward sums the gradients over the ranks)",
  ["dist.counter"] = "dist.counter() -> c -- c:next() gives 1, 2, ... each to one rank, as it asks; c:free() on all ranks",
  ["dist.average_gradients"] = "dist.average_gradients(module | params) -- after backward: the mean .grad over ranks, one message",
  ["dist.broadcast_parameters"] = "dist.broadcast_parameters(module | params [, root=0]) -- root's parameters and buffers everywhere",
  ["sweep.grid"] = "sweep.grid(text, keys) -> axes or nil, msg -- \"lr=1e-4,1e-3 epochs=200\" into axes",
  ["sweep.points"] = "sweep.points(axes [, reaches]) -- the product of the axes as a list of points",
  ["sweep.has"] = "sweep.has(point, key) -- whether a point sets key",
  ["sweep.point_name"] = "sweep.point_name(point) -- \"lr=1e-4 epochs=1000\"",
  ["sweep.point_dir"] = "sweep.point_dir(point) -- \"_lr1e-4_epochs1000\", for directory names",
  ["sweep.point_flags"] = "sweep.point_flags(point) -- {\"--lr\", \"1e-4\", ...}",
  ["sweep.command_line"] = "sweep.command_line(job) -- a shell-quoted command line of a job",
  ["sweep.run"] = "sweep.run(jobs [, {parallel=2, on_done=fn(job, status)}]) -> statuses -- jobs as child processes",
  ["sweep.stats"] = "sweep.stats(list) -> mean, sd, n -- over the numbers that are not NaN",
  ["sweep.mean_sd"] = "sweep.mean_sd(list, fmt) -- \"m ± sd\" text",
  ["sweep.markdown"] = "sweep.markdown(head, rows) -- a markdown table",
  ["sweep.read_json"] = "sweep.read_json(path) -- the JSON value in a file (its last JSON line)",
  -- autograd
  ["autograd.grad"] = "autograd.grad(outputs, inputs [, {create_graph=, retain_graph=, grad_outputs=, allow_unused=}])"
    .. " -- gradients of outputs w.r.t. inputs, in the form inputs was given",
  ["autograd.no_grad"] = "autograd.no_grad(fn, ...) -- run fn without recording a graph",
  ["autograd.backward"] = "autograd.backward(outputs [, grads] [, opts]) -- backward from several outputs",
  ["autograd.gradcheck"] = "autograd.gradcheck(fn, inputs [, {eps, atol, rtol}]) -> ok, report -- vs central differences",
  ["autograd.gradgradcheck"] = "autograd.gradgradcheck(fn, inputs [, opts]) -> ok, report -- second derivatives",
  -- nn
  ["nn.Module"] = "nn.Module:extend(\"Name\") -- a new module class; define init(...) and forward(x)",
  ["nn.Sequential"] = "nn.Sequential{m1, m2, ...} -- modules in order; seq[i], #seq, seq:slice(i, j)",
  ["nn.Linear"] = "nn.Linear(in, out [, bias] [, {bias=true}]) -- y = x W^T + b",
  ["nn.Conv2d"] = "nn.Conv2d(in, out, k [, stride, padding, dilation, groups, bias] [, {stride=1, padding=0, ...}]) -- PyTorch's order",
  ["nn.ConvTranspose2d"] = "nn.ConvTranspose2d(in, out, k [, stride, padding, output_padding, groups, bias, dilation] [, {...}])",
  ["nn.BatchNorm1d"] = "nn.BatchNorm1d(C [, eps, momentum, affine, track_running_stats] [, {eps=1e-5, ...}])",
  ["nn.SyncBatchNorm"] = "nn.SyncBatchNorm(C [, eps, momentum, affine, track_running_stats] [, {...}]) -- BatchNorm over the global batch of every rank (dist)",
  ["nn.SyncBatchNorm.convert_sync_batchnorm"] = "nn.SyncBatchNorm.convert_sync_batchnorm(model) -> model -- every BatchNorm1d/2d made a SyncBatchNorm on the same tensors",
  ["nn.BatchNorm2d"] = "nn.BatchNorm2d(C [, eps, momentum, affine, track_running_stats] [, {eps=1e-5, ...}])",
  ["nn.LayerNorm"] = "nn.LayerNorm(shape [, {eps=1e-5, elementwise_affine=true}])",
  ["nn.Dropout"] = "nn.Dropout([p=0.5])",
  ["nn.LeakyReLU"] = "nn.LeakyReLU([slope=0.01])",
  ["nn.MinibatchDiscrimination"] = "nn.MinibatchDiscrimination(in, B, C) -- Salimans et al. 2016; output [x, o(x)]",
  ["nn.Embedding"] = "nn.Embedding(num, dim) -- rows looked up by 1-based index",
  ["nn.Upsample"] = "nn.Upsample([size, scale_factor, mode=\"nearest\", align_corners] [, {...}]) -- nn.functional.interpolate as a layer",
  ["nn.MaxPool2d"] = "nn.MaxPool2d(k [, stride=k, padding=0, dilation=1] [, {...}]) -- max over k x k windows (padding counts as -inf)",
  ["nn.AvgPool2d"] = "nn.AvgPool2d(k [, stride=k, padding=0, ceil_mode, count_include_pad=true, divisor_override] [, {...}])",
  ["nn.AdaptiveAvgPool2d"] = "nn.AdaptiveAvgPool2d(size | {h, w}) -- mean over PyTorch's adaptive bins to a fixed output size",
  ["nn.InstanceNorm2d"] = "nn.InstanceNorm2d(C [, eps=1e-5, momentum=0.1, affine=false] [, {...}]) -- each sample's channels over H x W",
  ["nn.GroupNorm"] = "nn.GroupNorm(groups, C [, eps=1e-5, affine=true] [, {...}]) -- each sample's groups of C/groups channels",
  ["nn.Dropout2d"] = "nn.Dropout2d([p=0.5]) -- zero whole channels with probability p in training",
  ["nn.ELU"] = "nn.ELU([alpha=1]) -- x for x > 0, alpha (exp(x) - 1) below",
  ["nn.GELU"] = "nn.GELU([approximate=\"none\" | \"tanh\"]) -- x Phi(x), exact (erf) or tanh approximation",
  ["nn.SiLU"] = "nn.SiLU() -- x sigmoid(x)",
  ["nn.ModuleList"] = "nn.ModuleList{m1, m2, ...} -- modules held, not run: list[i], #list, ipairs, append, extend, insert(i, m)",
  ["nn.ModuleDict"] = "nn.ModuleDict{name = m, ...} | {{name, m}, ...} -- dict[name], keys(), values(), items(), update(t)",
  ["nn.BCELoss"] = "nn.BCELoss([weight] [, {reduction=\"mean\"}]) -- loss(p, target): losses.bce as a module",
  ["nn.BCEWithLogitsLoss"] = "nn.BCEWithLogitsLoss([weight] [, {pos_weight=, reduction=\"mean\"}]) -- loss(logits, target)",
  ["nn.MSELoss"] = "nn.MSELoss([{reduction=\"mean\"}]) -- loss(x, target): mean squared error",
  ["nn.L1Loss"] = "nn.L1Loss([{reduction=\"mean\"}]) -- loss(x, target): mean absolute error",
  ["nn.CrossEntropyLoss"] = "nn.CrossEntropyLoss([weight] [, {label_smoothing=0, reduction=\"mean\"}]) -- loss(logits, 1-based classes)",
  ["nn.functional.interpolate"] = "nn.functional.interpolate(x, {size= | scale_factor=, mode=\"nearest\" | \"bilinear\", align_corners=false})",
  ["nn.functional.pad"] = "nn.functional.pad(x, {left, right [, top, bottom, ...]} [, mode=\"constant\" | \"reflect\" | \"replicate\" | \"circular\", value=0])",
  ["nn.utils.clip_grad_norm_"] = "nn.utils.clip_grad_norm_(params, max_norm [, norm_type=2]) -> total norm -- scale the .grads to at most max_norm",
  ["nn.utils.clip_grad_value_"] = "nn.utils.clip_grad_value_(params, v) -- clamp every .grad to [-v, v]",
  ["deepcopy"] = "m:deepcopy() -- an independent copy of a module (PyTorch's copy.deepcopy(model))",
  ["erf"] = "x:erf() -- the error function, elementwise",
  ["nn.utils.spectral_norm"] = "nn.utils.spectral_norm(module [, {name=\"weight\", n_power_iterations=1}])",
  ["infer"] = "m:infer(...) -> m(...) in eval mode without recording, the mode restored (torch.no_grad + eval/train)",
  ["nn.init.dcgan_"] = "nn.init.dcgan_(model) -- DCGAN init: conv/linear N(0, 0.02), batch norm N(1, 0.02)",
  -- losses
  ["losses.bce"] = "losses.bce(p, target [, {reduction=\"mean\"}]) -- binary cross-entropy of probabilities",
  ["losses.bce_with_logits"] = "losses.bce_with_logits(logits, target [, opts]) -- stable BCE on logits",
  ["losses.mse"] = "losses.mse(x, target [, opts])",
  ["losses.l1"] = "losses.l1(x, target [, opts])",
  ["losses.cross_entropy"] = "losses.cross_entropy(logits, classes [, {label_smoothing=0, reduction}]) -- 1-based classes",
  ["losses.nll"] = "losses.nll(log_probs, classes [, opts])",
  ["losses.gaussian_nll"] = "losses.gaussian_nll(mean, target, var [, {full=false, eps=1e-6}])",
  ["losses.hinge_d"] = "losses.hinge_d(d_real, d_fake) -- E relu(1 - D(x)) + E relu(1 + D(G(z)))",
  ["losses.hinge_g"] = "losses.hinge_g(d_fake) -- -E D(G(z))",
  ["losses.wasserstein_d"] = "losses.wasserstein_d(d_real, d_fake) -- E D(G(z)) - E D(x)",
  ["losses.wasserstein_g"] = "losses.wasserstein_g(d_fake) -- -E D(G(z))",
  ["losses.feature_matching"] = "losses.feature_matching(f_real, f_fake) -- ||mean f(x) - mean f(G(z))||^2",
  ["losses.gradient_penalty"] = "losses.gradient_penalty(D, real, fake [, {lambda=10}]) -> penalty, norms -- WGAN-GP",
  ["losses.kl_div"] = "losses.kl_div(log_q, p [, {reduction, log_target}])",
  -- optim
  ["optim.SGD"] = "optim.SGD(params, {lr, momentum=0, dampening=0, nesterov=false, weight_decay=0})",
  ["optim.Adam"] = "optim.Adam(params, {lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=0, amsgrad=false})",
  ["optim.RMSprop"] = "optim.RMSprop(params, {lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=false})",
  ["optim.lr_scheduler.StepLR"] = "optim.lr_scheduler.StepLR(opt, step_size [, gamma=0.1]) -- lr * gamma^(epoch // step_size); sched:step() per epoch",
  ["optim.lr_scheduler.ExponentialLR"] = "optim.lr_scheduler.ExponentialLR(opt, gamma) -- lr * gamma^epoch",
  ["optim.lr_scheduler.CosineAnnealingLR"] = "optim.lr_scheduler.CosineAnnealingLR(opt, T_max [, eta_min=0]) -- cosine from lr to eta_min over T_max epochs",
  ["optim.lr_scheduler.LambdaLR"] = "optim.lr_scheduler.LambdaLR(opt, lr_lambda) -- lr * lr_lambda(epoch)",
  ["optim.EMA"] = "optim.EMA(model [, {decay=0.999}]) -- moving average of the weights: ema:update() after each step, ema(z) runs it",
  ["optim.clip_weights"] = "optim.clip_weights(model, c) -- WGAN clamp of Linear/Conv weights and biases",
  -- data, metrics, image, ckpt
  ["data.gaussian_ring"] = "data.gaussian_ring{n=10000, modes=8, radius=2, std=0.02, normalize=false}",
  ["data.gaussian_grid"] = "data.gaussian_grid{n=10000, side=5, spacing=2, std=0.02, normalize=false}",
  ["data.mnist"] = "data.mnist{split=\"train\"|\"test\", dir=, range=\"tanh\"|\"unit\"} -- N x 1 x 28 x 28, 1-based labels",
  ["data.fashion_mnist"] = "data.fashion_mnist{split=\"train\"|\"test\", dir=, range=} -- Fashion-MNIST as data.mnist, ds.classes the names",
  ["data.cifar10"] = "data.cifar10{split=\"train\"|\"test\", dir=, range=\"tanh\"|\"unit\"} -- binary version, N x 3 x 32 x 32",
  ["data.images"] = "data.images(\"mnist\"|\"fashion\"|\"folder:DIR\", {size=, split=, dir=}) -- N x C x size x size in [-1, 1]",
  ["data.random_split"] = "data.random_split(ds, {0.9, 0.1} or {n1, n2}) -> datasets, a random permutation (torch's random_split)",
  ["data.image_folder"] = "data.image_folder{dir=, size=64|{h, w}, channels=3, range=\"tanh\"|\"unit\", limit=}"
    .. " -- subfolders are classes",
  ["data.dataset"] = "data.dataset(x [, labels]) -- then ds:batches(n, {shuffle=, drop_last=})",
  ["models.dcgan_generator"] = "models.dcgan_generator{zdim=100, width=64, channels=3, size=64} -- PyTorch's DCGAN tutorial G",
  ["models.dcgan_discriminator"] = "models.dcgan_discriminator{width=64, channels=3, size=64, batchnorm=true, sigmoid=true}",
  ["models.dcgan_init"] = "G:apply(models.dcgan_init) -- conv weights N(0, 0.02), BatchNorm scale N(1, 0.02)",
  ["metrics.matched_accuracy"] = "metrics.matched_accuracy(pred, labels) -> percent, mapping -- best one-to-one cluster -> class map (Hungarian)",
  ["metrics.modes"] = "metrics.modes(samples, centers, sigma) -> {modes, hq, kl, counts}",
  ["metrics.inception_score"] = "metrics.inception_score(samples, classifier [, {splits=10}]) -> mean, std (MNIST classifier)",
  ["metrics.fid"] = "metrics.fid(real, fake, classifier) -- Frechet distance of classifier features (MNIST classifier)",
  ["image.save_grid"] = "image.save_grid(images, path [, {nrow=8, padding=2, normalize=, range=, pad_value=}])",
  ["image.animation"] = "image.animation([grid opts]) -- anim:add(images); anim:save(path, {delay=0.1})",
  ["image.load"] = "image.load(path [, channels]) -> C x H x W in [0, 1], or nil, message",
  ["image.resize"] = "image.resize(img, h, w [, {crop=\"center\"}]) -- resampled (stb_image_resize), C x h x w",
  ["ckpt.save"] = "ckpt.save(path, {G=G, optG=optG, step=n, ...}) -> true; atomic safetensors, raises when it cannot write",
  ["ckpt.load"] = "ckpt.load(path, {G=G, optG=optG}) -> saved values; restores modules, optimizers, RNG",
  ["repl"] = "repl() -- a prompt inside the running script (locals as variables); `cont` resumes",
}

local help = {}

-- names of every function/table reachable from the ganlua modules
local function index()
  local names = {}
  local g = rawget(_G, "ganlua")
  local mods = { "tensor", "autograd", "nn", "losses", "optim", "data", "metrics", "image", "ckpt", "plot", "cli", "log", "models" }
  for _, m in ipairs(mods) do
    local t = g and g[m] or rawget(_G, m)
    if type(t) == "table" then
      names[t] = m
      for k, v in pairs(t) do
        if type(k) == "string" and names[v] == nil then names[v] = m .. "." .. k end
        if (m == "nn" and type(v) == "table" and (k == "utils" or k == "init" or k == "functional")) or
           (m == "optim" and k == "lr_scheduler") then
          for k2, v2 in pairs(v) do names[v2] = m .. "." .. k .. "." .. k2 end
        end
      end
    end
  end
  names[rawget(_G, "repl")] = "repl"
  return names
end

function help.help(x)
  if x == nil then
    print("ganlua modules: tensor autograd nn losses optim data metrics image plot ckpt cli log json sweep models")
    print("help(tensor.zeros), help(nn.Linear), help(x) for a tensor or module; help(\"matmul\") for a method")
    return
  end
  if type(x) == "string" then
    print(docs[x] or docs["tensor." .. x] or ("no help for '" .. x .. "'"))
    return
  end
  if T.is_tensor(x) then
    print(string.format("Tensor of size %s (float32)%s", table.concat(x:size(), "x"),
      x.grad_fn and (", made by " .. x.grad_fn) or (x:is_requires_grad() and ", a leaf that requires grad" or "")))
    local ms = {}
    for k in pairs(T.methods) do ms[#ms + 1] = k end
    table.sort(ms)
    print("methods: " .. table.concat(ms, " "))
    return
  end
  local name = index()[x]
  if name and docs[name] then
    print(docs[name])
    -- the options as the function declares them (argcheck.options): the
    -- same declaration that checks every call
    local decl = require("ganlua.argcheck").declared[name]
    if decl then print("options: " .. decl:help()) end
    return
  end
  if type(x) == "table" and rawget(x, "_params") then
    print(string.format("%s module, %d parameters:", x.__name, x:num_parameters()))
    print(tostring(x))
    return
  end
  if type(x) == "table" and x.__name and docs["nn." .. x.__name] then print(docs["nn." .. x.__name]) return end
  if type(x) == "table" and name then
    local ks = {}
    for k in pairs(x) do if type(k) == "string" and not k:match("^_") then ks[#ks + 1] = k end end
    table.sort(ks)
    print(name .. ": " .. table.concat(ks, " "))
    return
  end
  print(name and (name .. ": no summary yet") or ("a " .. type(x) .. " (not a ganlua function)"))
end

help.docs = docs
return help
