/* internal.h — what the runtime's files share and nothing outside sees:
 * the autograd node, the op ids, the recording helpers. */
#ifndef GANLUA_INTERNAL_H
#define GANLUA_INTERNAL_H

#include "ganlua.h"

#include <stdio.h>
#include <stdlib.h>

/* Internal invariants only; never for anything a script can influence. */
#define GL_ASSERT(c)                                                         \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "ganlua: internal error %s:%d: %s\n", __FILE__, \
                    __LINE__, #c);                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define GL_TRY(x)                                                            \
    do {                                                                     \
        gl_status st_ = (x);                                                 \
        if (st_ != GL_OK) return st_;                                        \
    } while (0)

/* Op ids: appended to, never compared with bare numbers. */
typedef enum {
    GL_OP_ADD,
    GL_OP_SUB,
    GL_OP_MUL,
    GL_OP_DIV,
    GL_OP_POW,
    GL_OP_MAXIMUM,
    GL_OP_MINIMUM,
    GL_OP_AFFINE,
    GL_OP_POW_SCALAR,
    GL_OP_UNARY,
    GL_OP_LEAKY_RELU,
    GL_OP_SOFTPLUS,
    GL_OP_CLAMP,
    GL_OP_BCE_LOGITS,
    GL_OP_SUM,
    GL_OP_SUM_TO,
    GL_OP_MAX_DIM,
    GL_OP_MAX_ALL,
    GL_OP_NORM,
    GL_OP_RESHAPE,
    GL_OP_EXPAND,
    GL_OP_PERMUTE,
    GL_OP_NARROW,
    GL_OP_NARROW_SCATTER,
    GL_OP_INDEX_SELECT,
    GL_OP_INDEX_ADD,
    GL_OP_CAT,
    GL_OP_MATMUL,
    GL_OP_CLONE,
    GL_OP_LINEAR,
    GL_OP_LINEAR_ACT,
    GL_OP_CONV2D,
    GL_OP_CONV2D_TR,
    GL_OP_CONV2D_WGRAD,
    GL_OP_MINIBATCH_DISC,
    GL_OP_BATCH_NORM,
    GL_OP_WEIGHT_NORM,
    GL_OP_COLLECTIVE_SUM,
    GL_OP_COUNT
} gl_op;

/* A hot loop compiled for AVX-512, AVX2 and baseline x86-64, the copy
 * picked at load time by the CPU. None of the clones enables FMA, so all
 * round identically. Off under the sanitizers (their runtimes and ifunc
 * resolvers do not mix) and under clang (only the fuzz build uses it, and
 * clang 14 emits the dispatcher without the function's own symbol). */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
#define GL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GL_CLONES
#endif

#define GL_NODE_INLINE 3
#define GL_NODE_SAVED 3

/* needs[i] says whether input i wants a gradient. gin[i] receives a new
 * reference or stays NULL. Grad mode is on during the call exactly when
 * the caller asked for create_graph, so the ops used here record. */
typedef gl_status (*gl_backward_fn)(gl_node *n, gl_tensor *g, gl_tensor **gin,
                                    const unsigned char *needs);

/* C (M x N) = alpha op(A) op(B) + beta C, row-major, op a transpose when
 * ta / tb: every product in the runtime goes through here (ops_matmul.c
 * picks the library by size). */
void gl_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
              int64_t ldb, float beta, float *C, int64_t ldc);

/* The convolution kernels (conv_dnnl.c). A geometry is the image side
 * N x C x H x W, the filters O x C x KH x KW, the map side N x O x HO x WO,
 * and stride, padding, dilation as PyTorch counts them; the caller has
 * checked that they fit together. The three kinds are conv2d's forward
 * (in0 = image, in1 = weight, out = map), its data gradient (in0 = map,
 * in1 = weight, out = image) and its weight gradient (in0 = image,
 * in1 = map, out = weight). Plain NCHW / OIHW buffers; out is overwritten. */
typedef enum { GL_CONV_FWD, GL_CONV_BWD_DATA, GL_CONV_BWD_WEIGHTS } gl_conv_kind;
typedef struct {
    int64_t N, C, H, W;
    int64_t O, KH, KW;
    int64_t HO, WO;
    int64_t sh, sw, ph, pw, dh, dw;
} gl_conv_geom;
gl_status gl_conv_run(gl_conv_kind kind, const gl_conv_geom *g, const float *in0, const float *in1, float *out);
void gl_conv_set_threads(int n);
void gl_conv_cache_clear(void);

struct gl_node {
    int refcount;
    gl_op op;
    gl_backward_fn backward;
    int n_in;
    /* Per input: the node that made it (owned ref), or the leaf that wants
     * .grad (owned ref), or neither. Inline for small n_in. */
    gl_node **next;
    gl_tensor **leaf;
    gl_node *next_inline[GL_NODE_INLINE];
    gl_tensor *leaf_inline[GL_NODE_INLINE];
    /* Input shapes (for broadcasting's sum_to and shape ops). */
    int (*in_ndim);
    int64_t (*in_shape)[GL_MAX_DIMS];
    int in_ndim_inline[GL_NODE_INLINE];
    int64_t in_shape_inline[GL_NODE_INLINE][GL_MAX_DIMS];
    /* Saved tensors. Inputs are held as they are (their grad_fn included,
     * so double backward reaches upstream). The output is held as a
     * detached alias and re-attached to this node when unpacked under
     * create_graph, which avoids an output -> node -> output cycle. */
    int n_saved;
    gl_tensor *saved[GL_NODE_SAVED];
    unsigned saved_version[GL_NODE_SAVED];
    unsigned char saved_is_output[GL_NODE_SAVED];
    /* Op arguments. */
    float f[4];
    int64_t i[4];
    int64_t *idx; /* owned index list (index_select/index_add), or NULL */
    gl_collective_fn coll; /* collective_sum's reduction and its context */
    void *coll_ctx;
    int64_t n_idx;
    int64_t extra_shape[GL_MAX_DIMS];
    int extra_ndim;
    int freed; /* saved tensors released after a backward */
    /* Engine scratch. */
    unsigned mark;
    int deps;
    int needed;
    gl_tensor *acc;
};

/* Record a node for out = op(ins...) when grad mode is on and some input
 * requires grad; otherwise return NULL (not an error). On failure returns
 * NULL and sets *st. */
gl_node *gl_record(gl_status *st, gl_op op, gl_backward_fn bw, gl_tensor *out,
                   int n_in, gl_tensor **ins);
void gl_node_save(gl_node *n, gl_tensor *t, int is_output);
/* Unpack saved tensor i: a new reference. Fails if the graph was freed or
 * the tensor was modified in place since it was saved. */
gl_status gl_node_saved(gl_node *n, int i, gl_tensor **out);
void gl_node_release(gl_node *n);
const char *gl_op_name(const gl_node *n);

/* The shape helpers the kernels share. */
gl_status gl_broadcast_shape(const char *fn, const gl_tensor *a,
                             const gl_tensor *b, int *ndim, int64_t *shape);

/* Release every tensor in a list (NULLs ok). */
void gl_release_all(gl_tensor **ts, int n);

/* Sum x to a shape if it differs, else return a new ref of x. */
gl_status gl_reduce_like(gl_tensor **out, gl_tensor *x, int ndim,
                         const int64_t *shape);

/* Raw kernels shared across files. */
void gl_kernel_broadcast_copy(float *dst, int nd, const int64_t *shape, const float *src, int ns,
                              const int64_t *sshape);

/* Broadcast strides (in elements) of a contiguous tensor of shape sshape
 * (ns dims) read over an nd-dim shape: 0 where it is broadcast. */
void gl_broadcast_strides(int64_t *stride, int nd, int ns, const int64_t *sshape);

/* An odometer over shape (nd dims) that reads nops operands, operand k at
 * strides[k][d] elements per step of dim d: drops the dims of size 1 and
 * merges a dim into its inner neighbour wherever every operand steps
 * through the pair as through one dim (stride[d] == stride[d + 1] *
 * shape[d + 1], broadcast dims included), so N x C x H x W + 1 x C x 1 x 1
 * runs over N*C rows of H*W instead of N*C*H rows of W. Rewrites shape
 * and strides in place, innermost last as before; returns the new ndim
 * (at least 1). */
int gl_collapse_dims(int nd, int64_t *shape, int nops, int64_t *const *strides);

/* A walk row by row over a contiguous tensor of shape (nd dims), with the
 * offset (off) into a contiguous one of shape sshape (ns dims) broadcast
 * to it; dims collapsed as above, rows inner long, the small tensor's
 * stride along a row `step` (0: one value per row). */
typedef struct {
    int nd;
    int64_t shape[GL_MAX_DIMS], stride[GL_MAX_DIMS], idx[GL_MAX_DIMS];
    int64_t total, inner, step, off;
} gl_bwalk;
void gl_bwalk_init(gl_bwalk *w, int nd, const int64_t *shape, int ns, const int64_t *sshape);
static inline void gl_bwalk_next(gl_bwalk *w)
{
    for (int d = w->nd - 2; d >= 0; d--) {
        w->off += w->stride[d];
        if (++w->idx[d] < w->shape[d]) break;
        w->off -= w->stride[d] * w->shape[d];
        w->idx[d] = 0;
    }
}

#endif
