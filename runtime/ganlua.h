/* ganlua.h — the C runtime of ganlua: tensors, autograd, kernels.
 *
 * This header is the whole public surface of runtime/. It never includes a
 * Lua header; bindings/ wrap it for Lua.
 *
 * Worked example: y = sum(x * x), dy/dx = 2x, d/dx (sum(dy/dx)) = 2.
 *
 *     int64_t shape[1] = {3};
 *     gl_tensor *x = NULL, *sq = NULL, *y = NULL;
 *     if (gl_tensor_new(&x, 1, shape) != GL_OK) { puts(gl_errmsg()); ... }
 *     gl_tensor_fill_(x, 1.5f);
 *     gl_tensor_set_requires_grad(x, 1);
 *     gl_op_mul(&sq, x, x);               // records a node: sq->grad_fn
 *     gl_op_sum(&y, sq);                  // 0-dim tensor
 *     gl_tensor *g = NULL;
 *     gl_autograd_grad(&y, NULL, 1, &x, 1, &g, 1, 1); // create_graph
 *     // g = 2x = {3, 3, 3}, and g itself has a grad_fn
 *     gl_tensor_release(g); gl_tensor_release(y); ...
 *
 * Conventions
 *   - Every function that can fail returns gl_status and leaves a message in
 *     gl_errmsg() naming the operation and the sizes ("matmul: 2x3 @ 2x3:
 *     inner sizes 3 and 2 differ"). Nothing aborts or prints on user input.
 *   - Output first: gl_op_add(&out, a, b). *out receives a new reference
 *     the caller owns; inputs are borrowed.
 *   - Dims are 0-based here; bindings translate Lua's 1-based dims.
 *   - Tensors are float32, row-major, contiguous (data may start at an
 *     offset into a shared storage: views and slices along dim 0).
 */
#ifndef GANLUA_H
#define GANLUA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GL_VERSION "0.1.0"
#define GL_MAX_DIMS 8

/* ---------------------------------------------------------------- errors */

typedef enum {
    GL_OK = 0,
    GL_ERR_ARG,    /* a bad argument value (dim out of range, negative size) */
    GL_ERR_SHAPE,  /* shapes that do not fit together */
    GL_ERR_NOMEM,  /* allocation failed or a size overflowed */
    GL_ERR_STATE,  /* e.g. backward through a freed graph */
    GL_ERR_IO,     /* a file could not be read or written */
    GL_ERR_FORMAT, /* a file's contents are wrong or truncated */
    GL_STATUS_COUNT
} gl_status;

/* The message of the last failure on this thread. */
const char *gl_errmsg(void);
/* Set the message (printf-style) and return st. */
gl_status gl_fail(gl_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Write a shape as "2x3x4" ("scalar" for 0 dims) into buf. */
const char *gl_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

/* ------------------------------------------------------------- allocator */

/* Size-class cache for float buffers, 64-byte aligned. */
float *gl_alloc_floats(size_t n);
void gl_free_floats(float *p, size_t n);
typedef struct {
    size_t live_bytes;   /* bytes held by live storages */
    size_t cached_bytes; /* bytes kept in the cache for reuse */
    size_t peak_bytes;   /* highest live_bytes seen */
    uint64_t n_malloc;   /* calls that reached malloc (cache misses) */
    uint64_t n_alloc;    /* all buffer requests */
    uint64_t total_bytes; /* bytes handed out since start (monotonic) */
} gl_mem_stats;
void gl_mem_get_stats(gl_mem_stats *s);
uint64_t gl_mem_total_bytes(void); /* cheap: for GC pacing */
void gl_mem_trim(void); /* return the cache to the system */

/* ----------------------------------------------------------------- tensor */

typedef struct gl_node gl_node;

typedef struct gl_storage {
    int refcount;
    unsigned version; /* bumped by every in-place write */
    int grad_leaf;    /* some leaf that requires grad owns this storage */
    size_t n;         /* floats */
    float *data;
} gl_storage;

typedef struct gl_tensor {
    int refcount;
    int ndim;
    int64_t shape[GL_MAX_DIMS];
    int64_t numel;
    gl_storage *storage;
    int64_t offset;
    float *data;            /* storage->data + offset */
    int requires_grad;      /* leaf that wants .grad, or any grad_fn output */
    struct gl_tensor *grad; /* accumulated gradient (owned), leaves only */
    gl_node *grad_fn;       /* node that produced this tensor (owned) */
    /* Set on a copy that PyTorch would return as a view (narrow along a
     * later dim, transpose, ...; "narrow", dim 3), and on views of it: an
     * in-place write to it could not reach its source, so it is refused. */
    const char *copy_op;
    int copy_dim; /* 1-based; 0: no dim to name */
} gl_tensor;

int64_t gl_numel(int ndim, const int64_t *shape);
/* A new uninitialised tensor. */
gl_status gl_tensor_new(gl_tensor **out, int ndim, const int64_t *shape);
gl_status gl_tensor_zeros(gl_tensor **out, int ndim, const int64_t *shape);
gl_status gl_full(gl_tensor **out, int ndim, const int64_t *shape, float v);
gl_status gl_scalar(gl_tensor **out, float v); /* 0-dim */
/* A tensor of the given shape like t's (same as gl_tensor_new). */
gl_status gl_tensor_new_like(gl_tensor **out, const gl_tensor *t);
/* New header on t's storage with a new shape of the same numel: the
 * result has no grad_fn (autograd's reshape is gl_op_reshape). */
gl_status gl_tensor_alias(gl_tensor **out, gl_tensor *t, int ndim,
                          const int64_t *shape);
/* Rows [start, start+len) of dim 0, sharing storage, no grad_fn. */
gl_status gl_tensor_rows(gl_tensor **out, gl_tensor *t, int64_t start,
                         int64_t len);
gl_tensor *gl_tensor_retain(gl_tensor *t);
void gl_tensor_release(gl_tensor *t); /* NULL is fine */
int gl_tensor_same_shape(const gl_tensor *a, const gl_tensor *b);
const char *gl_tensor_shape_str(const gl_tensor *t, char *buf, size_t n);
/* Resolve a possibly negative dim against ndim; GL_ERR_ARG if outside. */
gl_status gl_dim(const char *fn, int dim, int ndim, int *out);

/* idx holds 1-based class numbers; out has idx's shape plus n_classes. */
/* 1-D ranges and the identity (PyTorch's arange, linspace, eye): start,
 * stop and step must be finite, step non-zero, counts at most 2^31. */
gl_status gl_tensor_arange(gl_tensor **out, double start, double stop, double step);
gl_status gl_tensor_linspace(gl_tensor **out, double start, double stop, int64_t steps);
gl_status gl_tensor_eye(gl_tensor **out, int64_t n, int64_t m);
/* sum of a[i] * b[i] in double precision (equal numbers of elements) */
gl_status gl_tensor_dot(double *out, const gl_tensor *a, const gl_tensor *b);
gl_status gl_tensor_one_hot(gl_tensor **out, const gl_tensor *idx, int64_t n_classes);

/* In-place writes (not recorded by autograd; bump the version). */
void gl_tensor_fill_(gl_tensor *t, float v);
gl_status gl_tensor_copy_(gl_tensor *dst, const gl_tensor *src); /* broadcast */
void gl_tensor_bump(gl_tensor *t); /* mark storage as written */
/* In place along dim (0-based) at the cnt positions idx (0-based): fill
 * with v, or copy src (t's shape but cnt long along dim); not recorded. */
gl_status gl_tensor_index_fill_(gl_tensor *t, int dim, const int64_t *idx, int64_t cnt, float v);
gl_status gl_tensor_index_copy_(gl_tensor *t, int dim, const int64_t *idx, int64_t cnt, const gl_tensor *src);
/* Fails when t is a leaf requiring grad while grad mode is on: an in-place
 * write to it would be invisible to autograd. */
gl_status gl_check_inplace(const char *fn, const gl_tensor *t);

/* -------------------------------------------------------------------- rng */

/* xoshiro256** seeded through splitmix64; 32 bytes of state. */
typedef struct {
    uint64_t s[4];
} gl_rng;
void gl_rng_seed(gl_rng *r, uint64_t seed);
uint64_t gl_rng_next(gl_rng *r);
double gl_rng_uniform(gl_rng *r); /* [0, 1), 53 bits */
void gl_tensor_uniform_(gl_tensor *t, gl_rng *r, float lo, float hi);
void gl_tensor_normal_(gl_tensor *t, gl_rng *r, float mean, float std);
/* Integers in [lo, hi) as floats; hi - lo must be in [1, 2^24]. */
gl_status gl_tensor_randint_(gl_tensor *t, gl_rng *r, int64_t lo, int64_t hi);
/* A uniform random permutation of 0..n-1 into idx. */
void gl_rng_permutation(gl_rng *r, int64_t n, int64_t *idx);

/* --------------------------------------------------------------- autograd */

/* Grad mode is per thread. Ops record nodes only when it is on. */
int gl_grad_enabled(void);
int gl_set_grad_enabled(int on); /* returns the previous value */

void gl_tensor_set_requires_grad(gl_tensor *t, int on);
/* A new header on t's data with no grad_fn and requires_grad = 0. */
gl_status gl_tensor_detach(gl_tensor **out, gl_tensor *t);
/* The op name of t->grad_fn ("Add", "MatMul", ...) or NULL. */
const char *gl_tensor_grad_fn_name(const gl_tensor *t);

/* Accumulate gradients of outputs (seeded with grads, or ones for 0-dim
 * outputs when grads[i] is NULL) into the .grad of every leaf. */
gl_status gl_autograd_backward(gl_tensor **outputs, gl_tensor **grads,
                               int n_out, int retain_graph, int create_graph);
/* Gradients of outputs with respect to inputs, returned in result[] (new
 * references; NULL where an input is unreachable and allow_unused). Leaves'
 * .grad is left alone. */
gl_status gl_autograd_grad(gl_tensor **outputs, gl_tensor **grads, int n_out,
                           gl_tensor **inputs, int n_in, gl_tensor **result,
                           int retain_graph, int create_graph);

/* ---------------------------------------------------------------- ops
 * Differentiable unless noted. Each records a node when grad mode is on and
 * an input requires grad; each backward is written with these same ops, so
 * gradients are differentiable again (higher order). */

/* Binary with NumPy broadcasting. */
gl_status gl_op_add(gl_tensor **out, gl_tensor *a, gl_tensor *b);
gl_status gl_op_sub(gl_tensor **out, gl_tensor *a, gl_tensor *b);
gl_status gl_op_mul(gl_tensor **out, gl_tensor *a, gl_tensor *b);
gl_status gl_op_div(gl_tensor **out, gl_tensor *a, gl_tensor *b);
gl_status gl_op_pow(gl_tensor **out, gl_tensor *a, gl_tensor *b);
gl_status gl_op_maximum(gl_tensor **out, gl_tensor *a, gl_tensor *b);
gl_status gl_op_minimum(gl_tensor **out, gl_tensor *a, gl_tensor *b);

/* With a number: out = alpha * x + beta; out = x ^ p; out = s / x. */
/* The binary ops as one family, for callers that pick one at run time (the
 * bindings' operators and in-place methods). */
typedef enum { GL_BIN_ADD, GL_BIN_SUB, GL_BIN_MUL, GL_BIN_DIV, GL_BIN_POW, GL_BIN_MAX, GL_BIN_MIN } gl_binop;
const char *gl_binop_name(gl_binop op); /* "add", ..., "maximum", "minimum" */
gl_status gl_op_binary(gl_tensor **out, gl_binop op, gl_tensor *a, gl_tensor *b);
/* a op s, or s op a when swapped */
gl_status gl_op_binary_scalar(gl_tensor **out, gl_binop op, gl_tensor *a, float s, int swapped);
/* In place, recording nothing: t = t op alpha*y (alpha for add/sub only;
 * y broadcasts into t's shape) or t = t op s. add, sub, mul and div. The
 * in-place guard (gl_check_inplace) is applied and t's version bumped. */
gl_status gl_tensor_binary_(gl_tensor *t, gl_binop op, gl_tensor *y, float alpha, const char *fn);
gl_status gl_tensor_binary_scalar_(gl_tensor *t, gl_binop op, float s, const char *fn);
gl_status gl_tensor_clamp_(gl_tensor *t, float lo, float hi); /* in place, lo <= hi */
gl_status gl_op_affine(gl_tensor **out, gl_tensor *x, float alpha, float beta);
gl_status gl_op_pow_scalar(gl_tensor **out, gl_tensor *x, float p);
gl_status gl_op_rdiv(gl_tensor **out, float s, gl_tensor *x);
/* out = s ^ x */
gl_status gl_op_rpow(gl_tensor **out, float s, gl_tensor *x);

/* Unary. */
typedef enum {
    GL_U_EXP,
    GL_U_LOG,
    GL_U_SQRT,
    GL_U_ABS,
    GL_U_SIGN,
    GL_U_SIGMOID,
    GL_U_TANH,
    GL_U_RELU,
    GL_U_ERF,
    GL_U_COUNT
} gl_unary;
gl_status gl_op_unary(gl_tensor **out, gl_unary u, gl_tensor *x);
gl_status gl_op_leaky_relu(gl_tensor **out, gl_tensor *x, float slope);
/* log(1 + exp(beta x)) / beta, linear where beta x > threshold */
gl_status gl_op_softplus(gl_tensor **out, gl_tensor *x, float beta,
                         float threshold);
/* Binary cross-entropy of logits x against targets, elementwise:
 * softplus(x) - x t, stable for any logit. t is a tensor of x's shape or of
 * one element, or NULL for the number tv. Differentiable in x and t. */
gl_status gl_op_bce_logits(gl_tensor **out, gl_tensor *x, gl_tensor *t, float tv);
/* Clamp to [lo, hi]; pass -INFINITY / INFINITY for an open side. */
gl_status gl_op_clamp(gl_tensor **out, gl_tensor *x, float lo, float hi);

/* Comparisons (not differentiable): 1.0 where true, else 0.0. */
typedef enum { GL_CMP_EQ, GL_CMP_NE, GL_CMP_LT, GL_CMP_LE, GL_CMP_GT,
               GL_CMP_GE, GL_CMP_COUNT } gl_cmp;
gl_status gl_op_compare(gl_tensor **out, gl_cmp c, gl_tensor *a, gl_tensor *b);
gl_status gl_op_compare_scalar(gl_tensor **out, gl_cmp c, gl_tensor *a,
                               float s);

/* Reductions. Dims here are resolved (0-based, non-negative); where a
 * function takes "dim = -1" it means all elements, giving a 0-dim tensor. */
gl_status gl_op_sum(gl_tensor **out, gl_tensor *x);
gl_status gl_op_sum_dim(gl_tensor **out, gl_tensor *x, int dim, int keepdim);
gl_status gl_op_mean(gl_tensor **out, gl_tensor *x);
gl_status gl_op_mean_dim(gl_tensor **out, gl_tensor *x, int dim, int keepdim);
/* Sum x down to shape (which must broadcast to x's shape). */
gl_status gl_op_sum_to(gl_tensor **out, gl_tensor *x, int ndim,
                       const int64_t *shape);
/* Max/min over a dim: values (differentiable) and 0-based indices as
 * floats (not differentiable; pass NULL if not needed). */
gl_status gl_op_max_dim(gl_tensor **values, gl_tensor **indices, gl_tensor *x,
                        int dim, int keepdim, int is_min);
gl_status gl_op_max_all(gl_tensor **out, gl_tensor *x, int is_min);
/* 0-based index of the max (or min) over all (flattened) elements. */
gl_status gl_op_argmax_all(gl_tensor **out, gl_tensor *x, int is_min);
gl_status gl_op_var_dim(gl_tensor **out, gl_tensor *x, int dim, int keepdim,
                        int unbiased); /* dim = -1 -> all elements */
gl_status gl_op_norm(gl_tensor **out, gl_tensor *x, float p, int dim,
                     int keepdim); /* dim = -1 -> all elements */
gl_status gl_op_logsumexp(gl_tensor **out, gl_tensor *x, int dim, int keepdim);
gl_status gl_op_softmax(gl_tensor **out, gl_tensor *x, int dim);
gl_status gl_op_log_softmax(gl_tensor **out, gl_tensor *x, int dim);

/* Shapes. */
gl_status gl_op_reshape(gl_tensor **out, gl_tensor *x, int ndim,
                        const int64_t *shape); /* one -1 allowed */
gl_status gl_op_expand(gl_tensor **out, gl_tensor *x, int ndim,
                       const int64_t *shape); /* -1 keeps a size */
gl_status gl_op_permute(gl_tensor **out, gl_tensor *x, const int *perm);
gl_status gl_op_transpose(gl_tensor **out, gl_tensor *x, int d0, int d1);
gl_status gl_op_narrow(gl_tensor **out, gl_tensor *x, int dim, int64_t start,
                       int64_t len);
/* Zeros of shape with g written at [start, start+len) of dim: the adjoint
 * of narrow. */
gl_status gl_op_narrow_scatter(gl_tensor **out, gl_tensor *g, int ndim,
                               const int64_t *shape, int dim, int64_t start);
gl_status gl_op_select(gl_tensor **out, gl_tensor *x, int dim, int64_t index);
/* idx: 0-based positions along dim. */
gl_status gl_op_index_select(gl_tensor **out, gl_tensor *x, int dim,
                             const int64_t *idx, int64_t n);
/* Zeros with size_dim rows along dim, g's slices added at idx (adjoint of
 * index_select). */
gl_status gl_op_index_add(gl_tensor **out, gl_tensor *g, int dim,
                          const int64_t *idx, int64_t n, int64_t size_dim);
gl_status gl_op_cat(gl_tensor **out, gl_tensor **xs, int n, int dim);
gl_status gl_op_stack(gl_tensor **out, gl_tensor **xs, int n, int dim);

/* Matrix product: 2-D (MxK @ KxN), batched 3-D (BxMxK @ BxKxN), 3-D @ 2-D,
 * and 1-D vectors as in NumPy. ta/tb multiply by the transpose of a / b
 * without copying (BLAS flags). */
gl_status gl_op_matmul(gl_tensor **out, gl_tensor *a, gl_tensor *b);
gl_status gl_op_matmul_t(gl_tensor **out, gl_tensor *a, gl_tensor *b, int ta,
                         int tb);

/* Layers. linear: y = x W^T + b, x: N x I, W: O x I, b: O or NULL. */
gl_status gl_op_linear(gl_tensor **out, gl_tensor *x, gl_tensor *w, gl_tensor *b);
/* linear followed by a leaky relu of slope >= 0 (act = 1; relu at slope
 * 0), as one op: the activation is applied in place and its gradient read
 * off the output. act = 0 is gl_op_linear. */
gl_status gl_op_linear_act(gl_tensor **out, gl_tensor *x, gl_tensor *w, gl_tensor *b, int act, float slope);

/* Convolution (no bias: add it as a broadcast). Three ops, each other's
 * adjoints, so every order of derivative exists:
 *   conv2d(x: N x C x H x W, w: O x C x KH x KW) -> N x O x HO x WO
 *   conv2d_tr(g: N x O x HO x WO, w, H, W) -> N x C x H x W (the adjoint
 *     in x; nn.ConvTranspose2d's forward with w: C_in x C_out x KH x KW)
 *   conv2d_wgrad(x, g, KH, KW) -> O x C x KH x KW (the adjoint in w) */
typedef struct {
    int64_t stride[2], padding[2], dilation[2];
} gl_conv_params;
gl_status gl_op_conv2d(gl_tensor **out, gl_tensor *x, gl_tensor *w, const gl_conv_params *p);
gl_status gl_op_conv2d_tr(gl_tensor **out, gl_tensor *g, gl_tensor *w, int64_t H, int64_t W,
                          const gl_conv_params *p);
/* ConvTranspose2d as PyTorch defines it: the output is
 * (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1 high
 * (and likewise wide); output_padding must be below stride or dilation. */
gl_status gl_op_conv_transpose2d(gl_tensor **out, gl_tensor *x, gl_tensor *w, const gl_conv_params *p,
                                 const int64_t output_padding[2]);
gl_status gl_op_conv2d_wgrad(gl_tensor **out, gl_tensor *x, gl_tensor *g, int64_t KH, int64_t KW,
                             const gl_conv_params *p);

/* Batch normalisation in training mode, fused: x is N x C x ... (BatchNorm1d
 * and 2d alike), w and b C-vectors or both NULL (affine = false). y = (x -
 * mean) / sqrt(var + eps) w + b with the batch's per-channel mean and
 * biased variance, which come back in mean_out and var_out (C, no graph)
 * for the running statistics. Differentiable in x, w and b to every order. */
gl_status gl_op_batch_norm(gl_tensor **out, gl_tensor *x, gl_tensor *w, gl_tensor *b, float eps, gl_tensor **mean_out,
                           gl_tensor **var_out);

/* Weight normalisation (Salimans and Kingma 2016): v viewed as A x K (A its
 * first dim), g of v's shape without the first dim; out = g v / ||v[:, k]||
 * per column k. Fused forward and backward; differentiable in v and g to
 * every order (composite under create_graph). */
gl_status gl_op_weight_norm(gl_tensor **out, gl_tensor *v, gl_tensor *g);

/* Minibatch discrimination's pair sum (Salimans et al. 2016) on M = f(x) W
 * reshaped to N x B x C: o[i][b] = sum_{j != i} exp(-||M[i][b] - M[j][b]||_1)
 * -> N x B, plus 1 (the j = i term) when include_self. Fused forward and
 * backward; under create_graph the backward is built from differentiable
 * ops. */
gl_status gl_op_minibatch_disc(gl_tensor **out, gl_tensor *M, int include_self);

/* Copy (differentiable identity with its own storage). */
gl_status gl_op_clone(gl_tensor **out, gl_tensor *x);
/* A sum across processes, supplied by whoever runs them (the MPI backend
 * of ganlua.dist): fn combines n floats in place so that every process
 * ends with the same sums, and fails with gl_fail. out = x's values summed
 * by fn, recorded by autograd: the gradient is the same sum of the
 * incoming gradients (a replicated sum is its own adjoint), itself
 * recorded, so higher orders work. Every process must run the same
 * collectives in the same order, backward included. */
typedef gl_status (*gl_collective_fn)(void *ctx, float *data, int64_t n);
gl_status gl_op_collective_sum(gl_tensor **out, gl_tensor *x, gl_collective_fn fn, void *ctx);

/* ------------------------------------------------------------ optimizers
 * Fused in-place updates with PyTorch's rules; state tensors (NULL when
 * the option is off) have the parameter's number of elements. */
typedef struct {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
} gl_sgd_opts;
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} gl_adam_opts;
typedef struct {
    float lr, alpha, eps, weight_decay, momentum;
} gl_rmsprop_opts;
/* first: the momentum buffer is initialised from this step's gradient */
gl_status gl_sgd_step(gl_tensor *p, const gl_tensor *g, gl_tensor *buf, const gl_sgd_opts *o, int first);
/* step counts from 1; vmax non-NULL means amsgrad */
gl_status gl_adam_step(gl_tensor *p, const gl_tensor *g, gl_tensor *m, gl_tensor *v, gl_tensor *vmax,
                       const gl_adam_opts *o, int64_t step);
/* buf non-NULL: momentum; gavg non-NULL: centered */
gl_status gl_rmsprop_step(gl_tensor *p, const gl_tensor *g, gl_tensor *sq, gl_tensor *buf, gl_tensor *gavg,
                          const gl_rmsprop_opts *o);

/* ------------------------------------------------------------ file formats */

/* Atomic writes (atomic.c): every file ganlua writes goes through these.
 * Bytes go to PATH.tmp.XXXXXX beside the target, which is fsync'ed and
 * renamed over it (and the directory fsync'ed); a failure removes the
 * temporary and leaves the target untouched. fn names the operation in the
 * message ("save_png: cannot write PATH: REASON").
 *   gl_wfile *w; GL_TRY(gl_wfile_open(&w, "save", path));
 *   gl_wfile_write(w, buf, n);          // or fwrite to gl_wfile_stream(w)
 *   return gl_wfile_commit(w);          // or gl_wfile_abort(w) to give up
 * A writer that writes through the stream itself reports a failed write
 * with gl_wfile_fail(w, errno); commit then fails and removes the file. */
typedef struct gl_wfile gl_wfile;
gl_status gl_wfile_open(gl_wfile **out, const char *fn, const char *path);
FILE *gl_wfile_stream(gl_wfile *w);
const char *gl_wfile_tmpname(const gl_wfile *w);
int gl_wfile_write(gl_wfile *w, const void *data, size_t n); /* 1 while nothing failed */
void gl_wfile_fail(gl_wfile *w, int err);
gl_status gl_wfile_commit(gl_wfile *w); /* frees w */
void gl_wfile_abort(gl_wfile *w);       /* frees w; NULL is a no-op */
gl_status gl_write_file(const char *fn, const char *path, const void *data, size_t n);

/* An IDX file (plain or .gz) of unsigned bytes -> a float tensor of the
 * declared shape holding the raw values 0..255. GL_ERR_IO if it cannot be
 * opened, GL_ERR_FORMAT for a wrong magic, a truncated body or trailing
 * bytes; the message names the file. */
gl_status gl_idx_load(gl_tensor **out, const char *path);
/* CIFAR-10 binary batches, the files in order -> x: N x 3 x 32 x 32 in
 * 0..255, labels: N in 0..9 */
gl_status gl_cifar_load(gl_tensor **x, gl_tensor **labels, const char *const *paths, int n);

/* safetensors: write float32 tensors under names, plus a JSON object of
 * string metadata (or NULL); atomic (temp, fsync, rename). */
gl_status gl_st_write(const char *path, const char *const *names, gl_tensor *const *ts, int n,
                      const char *metadata_json);
/* Reading: open validates the header length against the file size; the
 * caller parses the JSON header and asks for each entry, whose offsets
 * are validated against the data and its dtype x shape. F32/F64/F16/BF16
 * and integer dtypes are converted to float32. */
typedef struct gl_st_file gl_st_file;
gl_status gl_st_open(gl_st_file **out, const char *path);
const char *gl_st_header(const gl_st_file *sf, size_t *len);
/* bytes after the header: the data section the tensors must tile */
uint64_t gl_st_data_size(const gl_st_file *sf);
gl_status gl_st_tensor(gl_tensor **out, const gl_st_file *sf, const char *name, const char *dtype, int ndim,
                       const int64_t *shape, uint64_t begin, uint64_t end);
void gl_st_close(gl_st_file *sf);

/* Fréchet distance between N(mu1, S1) and N(mu2, S2) (FID's formula);
 * mu: d, S: d x d symmetric positive semi-definite. */
gl_status gl_frechet_distance(double *out, const gl_tensor *mu1, const gl_tensor *s1, const gl_tensor *mu2,
                              const gl_tensor *s2);

/* Kernel density estimates (scipy's gaussian_kde, Scott's rule). */
/* K (2 x 2, row-major) = covariance(samples) * n^(-1/3) */
gl_status gl_kde2d_bandwidth(const gl_tensor *samples, double K[4]);
/* density on a H x W grid of cell centres over [x0, x1] x [y0, y1]; row 0 is
 * y0; kernel standard deviations below min_std are raised to it (0: none) */
gl_status gl_kde2d(gl_tensor **out, const gl_tensor *samples, double x0, double x1, double y0, double y1, int W,
                   int H, double min_std);
/* 1-D: bandwidth std * n^(-1/5), evaluated at each grid value */
gl_status gl_kde1d(gl_tensor **out, const gl_tensor *values, const gl_tensor *grid);
/* An H x W grid of values / vmax (max if vmax <= 0) through map 0 Blues,
 * 1 Greens, 2 viridis, as pixels: one native-endian uint32 0x00RRGGBB per
 * value (cairo's RGB24), rows stride bytes apart, grid row 0 at the
 * bottom (the last pixel row), as a plot's y axis runs upward. */
gl_status gl_colormap(unsigned char *px, int64_t stride, const gl_tensor *grid, int cmap, float vmax);

/* Images (torchvision's make_grid/save_image conventions). */
typedef struct {
    int64_t nrow, padding;
    int normalize, scale_each;
    float lo, hi; /* value range for normalize; NaN: the data's min/max */
    float pad_value;
} gl_grid_opts;
/* N x C x H x W (or C x H x W, H x W), C in {1, 3} -> 3 x H' x W' in [0, 1] */
gl_status gl_image_make_grid(gl_tensor **out, const gl_tensor *t, const gl_grid_opts *o);
/* C x H x W in [0, 1], C in {1, 3, 4}; written atomically */
gl_status gl_image_write_png(const char *path, const gl_tensor *t);
/* PNG/JPEG/BMP... -> C x H x W in [0, 1]; channels 0 keeps the file's */
gl_status gl_image_load(gl_tensor **out, const char *path, int channels);
/* C x H x W (or H x W) -> C x oh x ow, resampled by stb_image_resize
 * (Mitchell filter shrinking, Catmull-Rom enlarging, edges clamped) from
 * the source region [x0, x1) x [y0, y1) given as fractions of its width
 * and height; values clamped to the source's range */
gl_status gl_image_resize(gl_tensor **out, const gl_tensor *t, int oh, int ow, double x0, double y0, double x1,
                          double y1);
/* frames: C x H x W in [0, 1], same size; delay in 1/100 s; atomic */
gl_status gl_image_write_gif(const char *path, gl_tensor *const *frames, int n, int delay_cs, int loop);

/* ----------------------------------------------------------- threading */
/* Sets both pools: OpenBLAS's (matmul, linear) and the OpenMP one oneDNN's
 * convolutions run on. */
void gl_set_num_threads(int n);
/* "OpenBLAS 0.3.21 ... (core Zen)" */
const char *gl_blas_backend(void);
/* "oneDNN 2.6.3, ISA avx512_core_bf16, kernels jit:avx512_core, ..." */
const char *gl_conv_backend(void);
int gl_get_num_threads(void);

#endif
