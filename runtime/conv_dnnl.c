/* conv_dnnl.c — the convolution kernels, on oneDNN (Debian's libdnnl, the
 * library and version PyTorch's CPU convolutions run on here).
 *
 * ganlua's tensors are NCHW and its weights OIHW. oneDNN's direct
 * convolutions are fastest on blocked layouts (nChw16c and friends), so
 * each primitive is created with "any" layouts, and the arguments are
 * reordered into the layouts it chose and the result back, as PyTorch's
 * ideep does for plain tensors. A side with fewer than 8 channels (an image
 * with 1 or 3 planes, a generator's last layer) stays NCHW: blocking it
 * would pad 3 channels to 16 and, for the data gradient, fall back to a
 * slower kernel (measured: 15 ms against 5.8 ms for 3x64x64 -> 64, batch 64).
 *
 * One primitive per (kind, shape), created on first use and kept in a
 * small most-recently-used list; the staging buffers and the scratchpad
 * come from the allocator's cache, so a training loop neither creates
 * primitives nor calls malloc after its first iteration. */
#include "internal.h"

#include <oneapi/dnnl/dnnl.h>
#include <string.h>

/* libgomp's, which oneDNN's OpenMP runtime sizes itself by; declared here
 * so that no omp.h is needed (clang's builds have none). */
extern void omp_set_num_threads(int n);

/* the cache key: every field an int64_t, so memcmp compares it */
typedef struct {
    int64_t kind;
    gl_conv_geom g;
} conv_key;

typedef struct conv_entry {
    conv_key key;
    dnnl_primitive_t prim;
    /* the three arguments: 0 and 1 are read, 2 is written */
    int arg[3];
    dnnl_memory_t user[3];       /* on the caller's NCHW / OIHW buffers */
    dnnl_memory_t staged[3];     /* in the primitive's layout, or NULL */
    dnnl_primitive_t reorder[3]; /* user -> staged for 0, 1; staged -> user for 2 */
    size_t staged_bytes[3];
    dnnl_memory_t scratch;
    size_t scratch_bytes;
    struct conv_entry *next;
} conv_entry;

enum { CACHE_MAX = 64 };
static conv_entry *cache;
static int cache_n;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static char impls[128]; /* the kernels the primitives created so far run on */

static const char *kind_name(int kind)
{
    return kind == GL_CONV_FWD ? "conv2d" : kind == GL_CONV_BWD_DATA ? "conv_transpose2d" : "conv2d_wgrad";
}

static gl_status dnnl_fail(int kind, const char *what, dnnl_status_t s)
{
    static const char *names[] = {"success", "out of memory", "invalid arguments", "unimplemented",
                                  "iterator ends", "runtime error", "not required"};
    const char *n = (unsigned)s < sizeof names / sizeof *names ? names[s] : "unknown status";
    return gl_fail(s == dnnl_out_of_memory ? GL_ERR_NOMEM : GL_ERR_ARG, "%s: oneDNN %s: %s (status %d)", kind_name(kind), what,
                   n, (int)s);
}

static gl_status ensure_engine(void)
{
    if (engine) return GL_OK;
    dnnl_status_t s = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (s == dnnl_success && (s = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags)) != dnnl_success) {
        dnnl_engine_destroy(engine);
        engine = NULL;
    }
    return s == dnnl_success ? GL_OK : dnnl_fail(GL_CONV_FWD, "could not create the CPU engine", s);
}

static void entry_free(conv_entry *e)
{
    if (!e) return;
    for (int i = 0; i < 3; i++) {
        if (e->user[i]) dnnl_memory_destroy(e->user[i]);
        if (e->staged[i]) dnnl_memory_destroy(e->staged[i]);
        if (e->reorder[i]) dnnl_primitive_destroy(e->reorder[i]);
    }
    if (e->scratch) dnnl_memory_destroy(e->scratch);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    free(e);
}

/* the user-side (plain) and primitive-side ("any", or plain for a side
 * with few channels) descriptors of the image, weight and map tensors */
static dnnl_status_t descs(const gl_conv_geom *g, dnnl_memory_desc_t plain[3], dnnl_memory_desc_t any[3])
{
    dnnl_dims_t img = {g->N, g->C, g->H, g->W}, wei = {g->O, g->C, g->KH, g->KW}, map = {g->N, g->O, g->HO, g->WO};
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&plain[0], 4, img, dnnl_f32, dnnl_nchw)) ||
        (s = dnnl_memory_desc_init_by_tag(&plain[1], 4, wei, dnnl_f32, dnnl_oihw)) ||
        (s = dnnl_memory_desc_init_by_tag(&plain[2], 4, map, dnnl_f32, dnnl_nchw)) ||
        (s = dnnl_memory_desc_init_by_tag(&any[0], 4, img, dnnl_f32, g->C < 8 ? dnnl_nchw : dnnl_format_tag_any)) ||
        (s = dnnl_memory_desc_init_by_tag(&any[1], 4, wei, dnnl_f32, dnnl_format_tag_any)) ||
        (s = dnnl_memory_desc_init_by_tag(&any[2], 4, map, dnnl_f32, g->O < 8 ? dnnl_nchw : dnnl_format_tag_any)))
        return s;
    return dnnl_success;
}

/* the argument slot i of entry e: user memory on plain md, and when the
 * primitive wants another layout, staged memory and the reorder between */
static dnnl_status_t make_slot(conv_entry *e, int i, const dnnl_memory_desc_t *plain, const dnnl_memory_desc_t *want)
{
    dnnl_status_t s = dnnl_memory_create(&e->user[i], plain, engine, DNNL_MEMORY_NONE);
    if (s || dnnl_memory_desc_equal(plain, want)) return s;
    if ((s = dnnl_memory_create(&e->staged[i], want, engine, DNNL_MEMORY_NONE))) return s;
    e->staged_bytes[i] = dnnl_memory_desc_get_size(want);
    dnnl_primitive_desc_t rpd;
    if (i < 2) s = dnnl_reorder_primitive_desc_create(&rpd, plain, engine, want, engine, NULL);
    else s = dnnl_reorder_primitive_desc_create(&rpd, want, engine, plain, engine, NULL);
    if (s) return s;
    s = dnnl_primitive_create(&e->reorder[i], rpd);
    dnnl_primitive_desc_destroy(rpd);
    return s;
}

/* the primitive descriptor of kind on layouts md (image, weight, map) */
static dnnl_status_t make_pd(dnnl_primitive_desc_t *pd, int kind, const gl_conv_geom *g, const dnnl_memory_desc_t md[3],
                             const_dnnl_primitive_attr_t attr)
{
    /* oneDNN's dilation counts the gaps (PyTorch's minus one); the right
     * padding is what makes the map exactly HO x WO */
    dnnl_dims_t strides = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pl = {g->ph, g->pw},
                pr = {(g->HO - 1) * g->sh + (g->KH - 1) * g->dh + 1 - g->H - g->ph,
                      (g->WO - 1) * g->sw + (g->KW - 1) * g->dw + 1 - g->W - g->pw};
    dnnl_convolution_desc_t fd, bd;
    dnnl_primitive_desc_t fpd = NULL;
    dnnl_status_t s = dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &md[0],
                                                                 &md[1], NULL, &md[2], strides, dil, pl, pr);
    if (!s) s = dnnl_primitive_desc_create(&fpd, &fd, attr, engine, NULL);
    if (s || kind == GL_CONV_FWD) {
        *pd = fpd;
        return s;
    }
    if (kind == GL_CONV_BWD_DATA)
        s = dnnl_dilated_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &md[0], &md[1], &md[2], strides, dil,
                                                             pl, pr);
    else
        s = dnnl_dilated_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &md[0], &md[1], NULL, &md[2],
                                                                strides, dil, pl, pr);
    if (!s) s = dnnl_primitive_desc_create(pd, &bd, attr, engine, fpd);
    dnnl_primitive_desc_destroy(fpd);
    return s;
}

static int is_reference(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    return !dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) && impl && !strncmp(impl, "ref", 3);
}

static gl_status entry_new(conv_entry **out, const conv_key *k)
{
    const gl_conv_geom *g = &k->g;
    int kind = (int)k->kind;
    conv_entry *e = calloc(1, sizeof *e);
    if (!e) return gl_fail(GL_ERR_NOMEM, "%s: out of memory", kind_name(kind));
    e->key = *k;
    dnnl_memory_desc_t plain[3], any[3];
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    const char *what = "has no convolution for this shape";
    dnnl_status_t s = descs(g, plain, any);
    if (!s) s = dnnl_primitive_attr_create(&attr);
    if (!s) s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (!s) s = make_pd(&pd, kind, g, any, attr);
    /* A mix of plain and blocked layouts that no JIT kernel takes (a
     * blocked 512-channel image with a 1-channel NCHW map: DCGAN's last D
     * layer) falls to oneDNN's reference loops, 100x slower (57 ms against
     * 0.4 ms for its data gradient at batch 64): then all blocked, and
     * failing that all plain (the GEMM kernels). */
    for (int alt = 0; alt < 2 && !s && is_reference(pd); alt++) {
        dnnl_memory_desc_t all[3];
        for (int i = 0; i < 3 && !s; i++)
            s = alt ? (all[i] = plain[i], dnnl_success)
                    : dnnl_memory_desc_init_by_tag(&all[i], plain[i].ndims, plain[i].dims, dnnl_f32, dnnl_format_tag_any);
        dnnl_primitive_desc_t other = NULL;
        if (!s && !make_pd(&other, kind, g, all, attr)) {
            if (is_reference(other)) dnnl_primitive_desc_destroy(other);
            else {
                dnnl_primitive_desc_destroy(pd);
                pd = other;
            }
        }
    }
    if (!s) {
        what = "could not set up the convolution";
        /* which plain tensor plays which argument, and the md it wants */
        static const struct { int tensor, arg; dnnl_query_t q; } roles[3][3] = {
            [GL_CONV_FWD] = {{0, DNNL_ARG_SRC, dnnl_query_src_md}, {1, DNNL_ARG_WEIGHTS, dnnl_query_weights_md},
                             {2, DNNL_ARG_DST, dnnl_query_dst_md}},
            [GL_CONV_BWD_DATA] = {{2, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md}, {1, DNNL_ARG_WEIGHTS, dnnl_query_weights_md},
                                  {0, DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md}},
            [GL_CONV_BWD_WEIGHTS] = {{0, DNNL_ARG_SRC, dnnl_query_src_md}, {2, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md},
                                     {1, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md}},
        };
        for (int i = 0; i < 3 && !s; i++) {
            e->arg[i] = roles[kind][i].arg;
            s = make_slot(e, i, &plain[roles[kind][i].tensor], dnnl_primitive_desc_query_md(pd, roles[kind][i].q, 0));
        }
        const dnnl_memory_desc_t *smd = s ? NULL : dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        if (smd && (e->scratch_bytes = dnnl_memory_desc_get_size(smd)))
            s = dnnl_memory_create(&e->scratch, smd, engine, DNNL_MEMORY_NONE);
        if (!s) s = dnnl_primitive_create(&e->prim, pd);
        const char *impl = NULL;
        if (!s && !dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) && impl && !strstr(impls, impl) &&
            strlen(impls) + strlen(impl) + 3 < sizeof impls)
            snprintf(impls + strlen(impls), sizeof impls - strlen(impls), "%s%s", *impls ? ", " : "", impl);
    }
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (s) {
        entry_free(e);
        return dnnl_fail(kind, what, s);
    }
    *out = e;
    return GL_OK;
}

/* the entry for k, at the front of the list; the least recently used one
 * goes when the list is full */
static gl_status lookup(conv_entry **out, const conv_key *k)
{
    conv_entry **pp = &cache, *prev_last = NULL;
    for (conv_entry *e = cache; e; pp = &e->next, e = e->next) {
        if (!memcmp(&e->key, k, sizeof *k)) {
            *pp = e->next;
            e->next = cache;
            cache = e;
            *out = e;
            return GL_OK;
        }
        if (e->next && !e->next->next) prev_last = e;
    }
    conv_entry *e;
    GL_TRY(entry_new(&e, k));
    if (cache_n >= CACHE_MAX && prev_last) {
        entry_free(prev_last->next);
        prev_last->next = NULL;
        cache_n--;
    }
    e->next = cache;
    cache = e;
    cache_n++;
    *out = e;
    return GL_OK;
}

static int64_t numel3(int64_t a, int64_t b, int64_t c, int64_t d) { return a * b * c * d; }

gl_status gl_conv_run(gl_conv_kind kind, const gl_conv_geom *g, const float *in0, const float *in1, float *out)
{
    int64_t img = numel3(g->N, g->C, g->H, g->W), wei = numel3(g->O, g->C, g->KH, g->KW), map = numel3(g->N, g->O, g->HO, g->WO);
    int64_t nout = kind == GL_CONV_FWD ? map : kind == GL_CONV_BWD_DATA ? img : wei;
    if (!img || !wei || !map) { /* nothing to sum over, or nothing to write */
        if (nout) memset(out, 0, sizeof(float) * (size_t)nout);
        return GL_OK;
    }
    GL_TRY(ensure_engine());
    conv_key k;
    memset(&k, 0, sizeof k);
    k.kind = kind;
    k.g = *g;
    conv_entry *e;
    GL_TRY(lookup(&e, &k));
    const float *ins[2] = {in0, in1};
    float *buf[3] = {NULL, NULL, NULL}, *scratch = NULL;
    gl_status st = GL_OK;
    dnnl_status_t s = dnnl_success;
    for (int i = 0; i < 3; i++)
        if (e->staged[i] && !(buf[i] = gl_alloc_floats(e->staged_bytes[i] / sizeof(float)))) st = GL_ERR_NOMEM;
    if (e->scratch && !(scratch = gl_alloc_floats((e->scratch_bytes + sizeof(float) - 1) / sizeof(float)))) st = GL_ERR_NOMEM;
    if (st) {
        st = gl_fail(GL_ERR_NOMEM, "%s: out of memory for its work buffers", kind_name(kind));
        goto out;
    }
    for (int i = 0; i < 3 && !s; i++) {
        s = dnnl_memory_set_data_handle(e->user[i], i < 2 ? (void *)ins[i] : (void *)out);
        if (!s && e->staged[i]) s = dnnl_memory_set_data_handle(e->staged[i], buf[i]);
    }
    if (!s && e->scratch) s = dnnl_memory_set_data_handle(e->scratch, scratch);
    for (int i = 0; i < 2 && !s; i++)
        if (e->reorder[i]) {
            dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, e->user[i]}, {DNNL_ARG_TO, e->staged[i]}};
            s = dnnl_primitive_execute(e->reorder[i], stream, 2, a);
        }
    if (!s) {
        dnnl_exec_arg_t a[4];
        int n = 0;
        for (int i = 0; i < 3; i++) a[n++] = (dnnl_exec_arg_t){e->arg[i], e->staged[i] ? e->staged[i] : e->user[i]};
        if (e->scratch) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch};
        s = dnnl_primitive_execute(e->prim, stream, n, a);
    }
    if (!s && e->reorder[2]) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, e->staged[2]}, {DNNL_ARG_TO, e->user[2]}};
        s = dnnl_primitive_execute(e->reorder[2], stream, 2, a);
    }
    if (!s) s = dnnl_stream_wait(stream);
    if (s) st = dnnl_fail((int)kind, "failed to run", s);
out:
    for (int i = 0; i < 3; i++)
        if (buf[i]) gl_free_floats(buf[i], e->staged_bytes[i] / sizeof(float));
    if (scratch) gl_free_floats(scratch, (e->scratch_bytes + sizeof(float) - 1) / sizeof(float));
    return st;
}

void gl_conv_set_threads(int n) { omp_set_num_threads(n); }

const char *gl_conv_backend(void)
{
    static char buf[256];
    static const struct { dnnl_cpu_isa_t isa; const char *name; } isas[] = {
        {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"}, {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
        {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"}, {dnnl_cpu_isa_avx512_core, "avx512_core"},
        {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"}, {dnnl_cpu_isa_avx2, "avx2"}, {dnnl_cpu_isa_avx, "avx"},
        {dnnl_cpu_isa_sse41, "sse41"},
    };
    const dnnl_version_t *v = dnnl_version();
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const char *name = "baseline";
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++)
        if ((isa & isas[i].isa) == isas[i].isa) {
            name = isas[i].name;
            break;
        }
    snprintf(buf, sizeof buf, "oneDNN %d.%d.%d, ISA %s, kernels %s", v->major, v->minor, v->patch, name,
             *impls ? impls : "(none created yet)");
    return buf;
}

void gl_conv_cache_clear(void)
{
    while (cache) {
        conv_entry *e = cache;
        cache = e->next;
        entry_free(e);
    }
    cache_n = 0;
}
