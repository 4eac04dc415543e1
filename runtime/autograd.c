/* autograd.c — the tape: nodes, saved tensors, and the backward engine.
 *
 * Define-by-run. An op that sees an input requiring grad (and grad mode on)
 * records a gl_node holding edges to the nodes (or leaves) of its inputs,
 * the tensors its backward needs, and its arguments. backward() walks the
 * nodes reachable from the outputs in topological order (iteratively, no
 * recursion), calling each node's backward, which is written with the same
 * differentiable ops: with create_graph, grad mode stays on while it runs,
 * so the gradients get their own graph and can be differentiated again. */
#include "internal.h"

#include <string.h>

static _Thread_local int grad_enabled = 1;

int gl_grad_enabled(void) { return grad_enabled; }

int gl_set_grad_enabled(int on)
{
    int prev = grad_enabled;
    grad_enabled = on != 0;
    return prev;
}

/* ------------------------------------------------------------ node life */

#define NODE_POOL_MAX 4096
static gl_node *node_pool[NODE_POOL_MAX];
static int n_node_pool;

static gl_node *node_alloc(int n_in)
{
    gl_node *n = n_node_pool ? node_pool[--n_node_pool] : malloc(sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->refcount = 1;
    n->n_in = n_in;
    if (n_in <= GL_NODE_INLINE) {
        n->next = n->next_inline;
        n->leaf = n->leaf_inline;
        n->in_ndim = n->in_ndim_inline;
        n->in_shape = n->in_shape_inline;
    } else {
        n->next = calloc((size_t)n_in, sizeof *n->next);
        n->leaf = calloc((size_t)n_in, sizeof *n->leaf);
        n->in_ndim = calloc((size_t)n_in, sizeof *n->in_ndim);
        n->in_shape = calloc((size_t)n_in, sizeof *n->in_shape);
        if (!n->next || !n->leaf || !n->in_ndim || !n->in_shape) {
            free(n->next);
            free(n->leaf);
            free(n->in_ndim);
            free(n->in_shape);
            free(n);
            return NULL;
        }
    }
    return n;
}

static void release_saved(gl_node *n)
{
    for (int i = 0; i < n->n_saved; i++) {
        gl_tensor_release(n->saved[i]);
        n->saved[i] = NULL;
    }
    n->n_saved = 0;
}

/* Releasing a node releases its inputs' nodes, and so on up the graph. Do
 * it with an explicit worklist: a chain of a million nodes must not
 * overflow the C stack. */
static gl_node **pending;
static size_t n_pending, cap_pending;
static int draining;

static void node_destroy(gl_node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        gl_node_release(n->next[i]);
        gl_tensor_release(n->leaf[i]);
    }
    release_saved(n);
    gl_tensor_release(n->acc);
    free(n->idx);
    if (n->n_in > GL_NODE_INLINE) {
        free(n->next);
        free(n->leaf);
        free(n->in_ndim);
        free(n->in_shape);
    }
    if (n_node_pool < NODE_POOL_MAX) node_pool[n_node_pool++] = n;
    else free(n);
}

void gl_node_release(gl_node *n)
{
    if (!n || --n->refcount > 0) return;
    if (n_pending == cap_pending) {
        size_t cap = cap_pending ? cap_pending * 2 : 256;
        gl_node **p = realloc(pending, cap * sizeof *p);
        if (!p) { /* no room for the worklist: fall back to recursion */
            node_destroy(n);
            return;
        }
        pending = p;
        cap_pending = cap;
    }
    pending[n_pending++] = n;
    if (draining) return;
    draining = 1;
    while (n_pending) node_destroy(pending[--n_pending]);
    draining = 0;
}

gl_node *gl_record(gl_status *st, gl_op op, gl_backward_fn bw, gl_tensor *out, int n_in,
                   gl_tensor **ins)
{
    *st = GL_OK;
    if (!grad_enabled) return NULL;
    int any = 0;
    for (int i = 0; i < n_in; i++) any |= ins[i] && ins[i]->requires_grad;
    if (!any) return NULL;
    gl_node *n = node_alloc(n_in);
    if (!n) {
        *st = gl_fail(GL_ERR_NOMEM, "autograd: out of memory recording an op");
        return NULL;
    }
    n->op = op;
    n->backward = bw;
    for (int i = 0; i < n_in; i++) {
        gl_tensor *t = ins[i];
        if (!t) continue;
        n->in_ndim[i] = t->ndim;
        memcpy(n->in_shape[i], t->shape, sizeof(int64_t) * (size_t)t->ndim);
        if (t->grad_fn) {
            n->next[i] = t->grad_fn;
            t->grad_fn->refcount++;
        } else if (t->requires_grad) {
            n->leaf[i] = gl_tensor_retain(t);
        }
    }
    GL_ASSERT(!out->grad_fn);
    out->grad_fn = n;
    out->requires_grad = 1;
    return n;
}

void gl_node_save(gl_node *n, gl_tensor *t, int is_output)
{
    GL_ASSERT(n->n_saved < GL_NODE_SAVED);
    int i = n->n_saved++;
    if (is_output) {
        /* a detached alias: holding t itself would be a cycle */
        gl_status st = gl_tensor_alias(&n->saved[i], t, t->ndim, t->shape);
        GL_ASSERT(st == GL_OK || !"alias");
    } else {
        n->saved[i] = gl_tensor_retain(t);
    }
    n->saved_version[i] = t->storage->version;
    n->saved_is_output[i] = (unsigned char)is_output;
}

static const char *op_names[GL_OP_COUNT] = {
    [GL_OP_ADD] = "Add", [GL_OP_SUB] = "Sub", [GL_OP_MUL] = "Mul", [GL_OP_DIV] = "Div",
    [GL_OP_POW] = "Pow", [GL_OP_MAXIMUM] = "Maximum", [GL_OP_MINIMUM] = "Minimum",
    [GL_OP_AFFINE] = "Affine", [GL_OP_POW_SCALAR] = "PowScalar",
    [GL_OP_UNARY] = "Unary", [GL_OP_LEAKY_RELU] = "LeakyRelu", [GL_OP_SOFTPLUS] = "Softplus", [GL_OP_BCE_LOGITS] = "BinaryCrossEntropyWithLogits",
    [GL_OP_CLAMP] = "Clamp", [GL_OP_SUM] = "Sum", [GL_OP_SUM_TO] = "SumTo",
    [GL_OP_MAX_DIM] = "MaxDim", [GL_OP_MAX_ALL] = "MaxAll", [GL_OP_NORM] = "Norm",
    [GL_OP_RESHAPE] = "Reshape", [GL_OP_EXPAND] = "Expand", [GL_OP_PERMUTE] = "Permute",
    [GL_OP_NARROW] = "Narrow", [GL_OP_NARROW_SCATTER] = "NarrowScatter",
    [GL_OP_INDEX_SELECT] = "IndexSelect", [GL_OP_INDEX_ADD] = "IndexAdd", [GL_OP_CAT] = "Cat",
    [GL_OP_MATMUL] = "MatMul", [GL_OP_CLONE] = "Clone", [GL_OP_LINEAR] = "Linear", [GL_OP_LINEAR_ACT] = "LinearLeakyRelu",
    [GL_OP_CONV2D] = "Conv2d", [GL_OP_CONV2D_TR] = "ConvTranspose2d", [GL_OP_CONV2D_WGRAD] = "Conv2dWeightGrad",
    [GL_OP_MINIBATCH_DISC] = "MinibatchDiscrimination", [GL_OP_BATCH_NORM] = "BatchNorm", [GL_OP_WEIGHT_NORM] = "WeightNorm",
    [GL_OP_COLLECTIVE_SUM] = "CollectiveSum",
};

static const char *unary_names[GL_U_COUNT] = {
    [GL_U_EXP] = "Exp", [GL_U_LOG] = "Log", [GL_U_SQRT] = "Sqrt", [GL_U_ABS] = "Abs",
    [GL_U_SIGN] = "Sign", [GL_U_SIGMOID] = "Sigmoid", [GL_U_TANH] = "Tanh", [GL_U_RELU] = "Relu", [GL_U_ERF] = "Erf",
};

const char *gl_op_name(const gl_node *n)
{
    if (n->op == GL_OP_UNARY) return unary_names[n->i[0]];
    return op_names[n->op];
}

const char *gl_tensor_grad_fn_name(const gl_tensor *t)
{
    return t->grad_fn ? gl_op_name(t->grad_fn) : NULL;
}

gl_status gl_node_saved(gl_node *n, int i, gl_tensor **out)
{
    if (n->freed || i >= n->n_saved)
        return gl_fail(GL_ERR_STATE,
                       "backward: the graph through %s has been freed by an earlier backward; "
                       "pass retain_graph = true to go through it twice",
                       gl_op_name(n));
    gl_tensor *s = n->saved[i];
    if (s->storage->version != n->saved_version[i])
        return gl_fail(GL_ERR_STATE,
                       "backward: a tensor that %s saved for backward was modified in place "
                       "after it was used (version %u, now %u)",
                       gl_op_name(n), n->saved_version[i], s->storage->version);
    if (n->saved_is_output[i] && grad_enabled) {
        gl_tensor *a;
        GL_TRY(gl_tensor_alias(&a, s, s->ndim, s->shape));
        a->grad_fn = n;
        n->refcount++;
        a->requires_grad = 1;
        *out = a;
    } else {
        *out = gl_tensor_retain(s);
    }
    return GL_OK;
}

/* ------------------------------------------------------------- tensors */

void gl_tensor_set_requires_grad(gl_tensor *t, int on)
{
    t->requires_grad = on != 0 || t->grad_fn;
    if (!t->grad_fn) t->storage->grad_leaf = t->requires_grad;
}

gl_status gl_tensor_detach(gl_tensor **out, gl_tensor *t)
{
    return gl_tensor_alias(out, t, t->ndim, t->shape);
}

/* --------------------------------------------------------------- engine */

static gl_node **order; /* reachable nodes, then topological order */
static gl_node **stack;
static size_t cap_order;
static unsigned generation;
static int engine_busy;

static gl_status grow(size_t n)
{
    if (n <= cap_order) return GL_OK;
    size_t cap = cap_order ? cap_order : 1024;
    while (cap < n) cap *= 2;
    gl_node **o = realloc(order, cap * sizeof *o);
    if (!o) return gl_fail(GL_ERR_NOMEM, "backward: out of memory");
    order = o;
    gl_node **s = realloc(stack, cap * sizeof *s);
    if (!s) return gl_fail(GL_ERR_NOMEM, "backward: out of memory");
    stack = s;
    cap_order = cap;
    return GL_OK;
}

/* *acc += g, building a graph when grad mode is on; steals nothing. */
static gl_status accumulate(gl_tensor **acc, gl_tensor *g)
{
    if (!*acc) {
        *acc = gl_tensor_retain(g);
        return GL_OK;
    }
    gl_tensor *a = *acc;
    if (!grad_enabled && a->refcount == 1 && a->storage->refcount == 1 && !a->grad_fn &&
        gl_tensor_same_shape(a, g)) {
        for (int64_t i = 0; i < a->numel; i++) a->data[i] += g->data[i];
        return GL_OK;
    }
    gl_tensor *sum;
    GL_TRY(gl_op_add(&sum, a, g));
    gl_tensor_release(a);
    *acc = sum;
    return GL_OK;
}

/* Into leaf->grad. Without a graph, .grad owns its own buffer so that an
 * in-place accumulation never writes into a tensor someone else holds. */
static gl_status accumulate_leaf(gl_tensor *leaf, gl_tensor *g)
{
    if (!leaf->grad) {
        if (grad_enabled || (g->refcount == 1 && g->storage->refcount == 1 && !g->grad_fn)) {
            leaf->grad = gl_tensor_retain(g);
        } else {
            gl_tensor *c;
            GL_TRY(gl_tensor_new_like(&c, g));
            memcpy(c->data, g->data, sizeof(float) * (size_t)g->numel);
            leaf->grad = c;
        }
        return GL_OK;
    }
    gl_tensor *a = leaf->grad;
    if (!gl_tensor_same_shape(a, g)) {
        char b1[96], b2[96];
        return gl_fail(GL_ERR_SHAPE, "backward: .grad has shape %s but the new gradient is %s",
                       gl_tensor_shape_str(a, b1, sizeof b1), gl_tensor_shape_str(g, b2, sizeof b2));
    }
    if (!grad_enabled && !a->grad_fn) {
        for (int64_t i = 0; i < a->numel; i++) a->data[i] += g->data[i];
        gl_tensor_bump(a);
        return GL_OK;
    }
    gl_tensor *sum;
    GL_TRY(gl_op_add(&sum, a, g));
    gl_tensor_release(a);
    leaf->grad = sum;
    return GL_OK;
}

static int input_index(gl_tensor **inputs, int n_in, const gl_tensor *leaf)
{
    for (int k = 0; k < n_in; k++)
        if (inputs[k] == leaf) return k;
    return -1;
}

static gl_status run_backward(gl_tensor **outs, gl_tensor **grads, int n_out, gl_tensor **inputs,
                              int n_in, gl_tensor **result, int retain, int create)
{
    const char *fn = inputs ? "autograd.grad" : "backward";
    gl_status st = GL_OK;
    size_t n_nodes = 0;
    gl_tensor *seeds[64] = {0};
    if (n_out > 64) return gl_fail(GL_ERR_ARG, "%s: at most 64 outputs", fn);

    /* Seeds. */
    for (int o = 0; o < n_out; o++) {
        gl_tensor *y = outs[o];
        char b1[96], b2[96];
        if (!y->requires_grad) {
            st = gl_fail(GL_ERR_STATE,
                         "%s: output %d does not require grad and has no grad_fn", fn, o + 1);
            goto done;
        }
        if (grads && grads[o]) {
            if (!gl_tensor_same_shape(grads[o], y)) {
                st = gl_fail(GL_ERR_SHAPE, "%s: gradient of shape %s for an output of shape %s", fn,
                             gl_tensor_shape_str(grads[o], b1, sizeof b1),
                             gl_tensor_shape_str(y, b2, sizeof b2));
                goto done;
            }
            seeds[o] = gl_tensor_retain(grads[o]);
        } else {
            if (y->numel != 1) {
                st = gl_fail(GL_ERR_SHAPE,
                             "%s: a gradient can be implied only for a one-element output; "
                             "this one is %s, so pass a gradient",
                             fn, gl_tensor_shape_str(y, b1, sizeof b1));
                goto done;
            }
            if ((st = gl_full(&seeds[o], y->ndim, y->shape, 1.0f)) != GL_OK) goto done;
        }
    }

    /* Reachable nodes: iterative DFS, counting incoming edges. */
    unsigned gen = ++generation;
    size_t sp = 0;
    for (int o = 0; o < n_out; o++) {
        gl_node *r = outs[o]->grad_fn;
        if (!r || r->mark == gen) continue;
        if ((st = grow(n_nodes + 1)) != GL_OK) goto done;
        r->mark = gen;
        r->deps = 0;
        r->needed = 0;
        order[n_nodes++] = r;
        stack[sp++] = r;
        while (sp) {
            gl_node *n = stack[--sp];
            for (int i = 0; i < n->n_in; i++) {
                gl_node *m = n->next[i];
                if (!m) continue;
                if (m->mark != gen) {
                    if ((st = grow(n_nodes + 1)) != GL_OK) goto done;
                    m->mark = gen;
                    m->deps = 0;
                    m->needed = 0;
                    order[n_nodes++] = m;
                    stack[sp++] = m;
                }
                m->deps++;
            }
        }
    }
    /* Topological order (Kahn), written over order[] through stack[]. */
    {
        size_t head = 0, tail = 0;
        for (size_t k = 0; k < n_nodes; k++)
            if (order[k]->deps == 0) stack[tail++] = order[k];
        while (head < tail) {
            gl_node *n = stack[head++];
            for (int i = 0; i < n->n_in; i++) {
                gl_node *m = n->next[i];
                if (m && --m->deps == 0) stack[tail++] = m;
            }
        }
        GL_ASSERT(tail == n_nodes);
        if (n_nodes) memcpy(order, stack, n_nodes * sizeof *order); /* none for a leaf's backward */
    }
    /* Which nodes lead to a wanted gradient (reverse topological order). */
    for (size_t k = n_nodes; k-- > 0;) {
        gl_node *n = order[k];
        int need = 0;
        for (int i = 0; i < n->n_in && !need; i++) {
            if (n->next[i]) need = n->next[i]->needed;
            else if (n->leaf[i]) need = !inputs || input_index(inputs, n_in, n->leaf[i]) >= 0;
        }
        if (inputs)
            for (int k2 = 0; k2 < n_in && !need; k2++) need = inputs[k2]->grad_fn == n;
        n->needed = need;
    }

    int prev_mode = gl_set_grad_enabled(create);
    /* Seeds into the roots (or straight to leaf outputs). */
    for (int o = 0; o < n_out && st == GL_OK; o++) {
        gl_tensor *y = outs[o];
        if (y->grad_fn) st = accumulate(&y->grad_fn->acc, seeds[o]);
        else if (inputs) {
            int k = input_index(inputs, n_in, y);
            if (k >= 0) st = accumulate(&result[k], seeds[o]);
        } else st = accumulate_leaf(y, seeds[o]);
    }
    for (size_t k = 0; k < n_nodes && st == GL_OK; k++) {
        gl_node *n = order[k];
        gl_tensor *g = n->acc;
        n->acc = NULL;
        if (g && n->needed) {
            if (inputs)
                for (int k2 = 0; k2 < n_in && st == GL_OK; k2++)
                    if (inputs[k2]->grad_fn == n) st = accumulate(&result[k2], g);
            unsigned char needs[256];
            unsigned char *nd = n->n_in <= 256 ? needs : malloc((size_t)n->n_in);
            gl_tensor *gin_inline[GL_NODE_INLINE] = {0};
            gl_tensor **gin = n->n_in <= GL_NODE_INLINE ? gin_inline : calloc((size_t)n->n_in, sizeof *gin);
            if (!nd || !gin) st = gl_fail(GL_ERR_NOMEM, "backward: out of memory");
            if (st == GL_OK) {
                for (int i = 0; i < n->n_in; i++)
                    nd[i] = n->next[i] ? (unsigned char)n->next[i]->needed
                          : n->leaf[i] ? (unsigned char)(!inputs || input_index(inputs, n_in, n->leaf[i]) >= 0)
                                       : 0;
                if (n->freed)
                    st = gl_fail(GL_ERR_STATE,
                                 "%s: the graph through %s has been freed by an earlier backward; "
                                 "pass retain_graph = true to go through it twice",
                                 fn, gl_op_name(n));
                else
                    st = n->backward(n, g, gin, nd);
            }
            for (int i = 0; i < n->n_in && st == GL_OK; i++) {
                gl_tensor *gi = gin[i];
                if (!gi || !nd[i]) continue;
                if (gi->ndim != n->in_ndim[i] ||
                    memcmp(gi->shape, n->in_shape[i], sizeof(int64_t) * (size_t)gi->ndim) != 0) {
                    char b1[96], b2[96];
                    st = gl_fail(GL_ERR_STATE, "%s: internal: %s gave a %s gradient for a %s input", fn,
                                 gl_op_name(n), gl_tensor_shape_str(gi, b1, sizeof b1),
                                 gl_shape_str(b2, sizeof b2, n->in_ndim[i], n->in_shape[i]));
                } else if (n->next[i]) {
                    st = accumulate(&n->next[i]->acc, gi);
                } else if (n->leaf[i]) {
                    if (inputs) {
                        int kk = input_index(inputs, n_in, n->leaf[i]);
                        if (kk >= 0) st = accumulate(&result[kk], gi);
                    } else {
                        st = accumulate_leaf(n->leaf[i], gi);
                    }
                }
            }
            if (gin) gl_release_all(gin, n->n_in);
            if (gin != gin_inline) free(gin);
            if (nd != needs) free(nd);
        }
        gl_tensor_release(g);
        if (!retain && st == GL_OK) {
            release_saved(n);
            n->freed = 1;
        }
    }
    gl_set_grad_enabled(prev_mode);
done:
    for (size_t k = 0; k < n_nodes; k++) {
        gl_tensor_release(order[k]->acc);
        order[k]->acc = NULL;
    }
    gl_release_all(seeds, n_out);
    return st;
}

gl_status gl_autograd_backward(gl_tensor **outputs, gl_tensor **grads, int n_out, int retain_graph,
                               int create_graph)
{
    if (engine_busy) return gl_fail(GL_ERR_STATE, "backward: already running a backward");
    engine_busy = 1;
    gl_status st = run_backward(outputs, grads, n_out, NULL, 0, NULL, retain_graph, create_graph);
    engine_busy = 0;
    return st;
}

gl_status gl_autograd_grad(gl_tensor **outputs, gl_tensor **grads, int n_out, gl_tensor **inputs,
                           int n_in, gl_tensor **result, int retain_graph, int create_graph)
{
    for (int k = 0; k < n_in; k++) {
        result[k] = NULL;
        if (!inputs[k]->requires_grad)
            return gl_fail(GL_ERR_STATE, "autograd.grad: input %d does not require grad", k + 1);
    }
    if (engine_busy) return gl_fail(GL_ERR_STATE, "autograd.grad: already running a backward");
    engine_busy = 1;
    gl_status st = run_backward(outputs, grads, n_out, inputs, n_in, result, retain_graph, create_graph);
    engine_busy = 0;
    if (st != GL_OK) gl_release_all(result, n_in);
    return st;
}
