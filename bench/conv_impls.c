/* conv_impls.c — every implementation oneDNN offers for one convolution
 * (forward, data gradient, weight gradient), timed alone: the floor under
 * a step that spends most of its time in these kernels, and a check of
 * the one oneDNN picks first (ganlua takes that one, as PyTorch does).
 *
 * Usage: conv_impls C O H [N]  (a 4x4 kernel, stride 2, padding 1, the
 * layers of DCGAN's discriminator; batch N, 64 by default). Prints one
 * line per kind and implementation: milliseconds (best of 5) and GFLOP/s.
 * oneDNN's reference loops are skipped. Threads: OMP_NUM_THREADS. */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void check(dnnl_status_t s, const char *what)
{
    if (s != dnnl_success) {
        fprintf(stderr, "conv_impls: %s failed (oneDNN status %d)\n", what, (int)s);
        exit(1);
    }
}

static const char *kind_names[3] = {"forward", "data gradient", "weight gradient"};

/* times each implementation of kind k of the convolution on md */
static void time_kind(dnnl_engine_t eng, dnnl_stream_t st, int k, const dnnl_memory_desc_t md[3], const dnnl_dims_t strides,
                      const dnnl_dims_t pad, double flops)
{
    dnnl_convolution_desc_t fd, bd;
    check(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &md[0], &md[1], NULL, &md[2],
                                             strides, pad, pad),
          "forward descriptor");
    dnnl_primitive_desc_t hint;
    check(dnnl_primitive_desc_create(&hint, &fd, NULL, eng, NULL), "forward primitive descriptor");
    const_dnnl_op_desc_t od = &fd;
    if (k == 1)
        check(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &md[0], &md[1], &md[2], strides, pad, pad),
              "data-gradient descriptor");
    if (k == 2)
        check(dnnl_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &md[0], &md[1], NULL, &md[2], strides, pad,
                                                          pad),
              "weight-gradient descriptor");
    if (k) od = &bd;
    static const dnnl_query_t q[3][3] = {{dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md},
                                         {dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md},
                                         {dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md}};
    static const int arg[3][3] = {{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
                                  {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
                                  {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}};
    dnnl_primitive_desc_iterator_t it;
    check(dnnl_primitive_desc_iterator_create(&it, od, NULL, eng, k ? hint : NULL), "implementation list");
    int first = 1;
    do {
        dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch(it);
        const char *impl = "?";
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        if (impl[0] == 'r' && impl[1] == 'e' && impl[2] == 'f') {
            dnnl_primitive_desc_destroy(pd);
            continue;
        }
        dnnl_primitive_t prim;
        check(dnnl_primitive_create(&prim, pd), "primitive");
        dnnl_exec_arg_t args[4];
        dnnl_memory_t mem[4];
        int n = 0;
        for (int i = 0; i < 4; i++) {
            const dnnl_memory_desc_t *m = dnnl_primitive_desc_query_md(pd, i < 3 ? q[k][i] : dnnl_query_scratchpad_md, 0);
            size_t bytes = m ? dnnl_memory_desc_get_size(m) : 0;
            if (!bytes) continue;
            check(dnnl_memory_create(&mem[n], m, eng, DNNL_MEMORY_ALLOCATE), "memory");
            float *h;
            dnnl_memory_get_data_handle(mem[n], (void **)&h);
            for (size_t j = 0; j < bytes / sizeof(float); j++) h[j] = (float)(j % 7) * 0.1f;
            args[n].arg = i < 3 ? arg[k][i] : DNNL_ARG_SCRATCHPAD;
            args[n].memory = mem[n];
            n++;
        }
        double best = 1e30;
        for (int r = 0; r < 6; r++) {
            double t0 = now();
            check(dnnl_primitive_execute(prim, st, n, args), "execute");
            dnnl_stream_wait(st);
            if (r && now() - t0 < best) best = now() - t0; /* the first run warms up */
        }
        printf("  %-16s %-14s %9.2f ms %7.1f GFLOP/s%s\n", kind_names[k], impl, best * 1e3, flops / best * 1e-9,
               first ? "   (oneDNN's first choice)" : "");
        first = 0;
        for (int i = 0; i < n; i++) dnnl_memory_destroy(mem[i]);
        dnnl_primitive_destroy(prim);
        dnnl_primitive_desc_destroy(pd);
    } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
    dnnl_primitive_desc_iterator_destroy(it);
    dnnl_primitive_desc_destroy(hint);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: conv_impls C O H [N]\n");
        return 2;
    }
    int C = atoi(argv[1]), O = atoi(argv[2]), H = atoi(argv[3]), N = argc > 4 ? atoi(argv[4]) : 64;
    if (C < 1 || O < 1 || H < 4 || N < 1) {
        fprintf(stderr, "conv_impls: C, O, N must be positive and H at least 4\n");
        return 2;
    }
    int HO = (H + 2 - 4) / 2 + 1;
    dnnl_engine_t eng;
    dnnl_stream_t st;
    check(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
    check(dnnl_stream_create(&st, eng, dnnl_stream_default_flags), "stream");
    dnnl_dims_t img = {N, C, H, H}, wei = {O, C, 4, 4}, map = {N, O, HO, HO}, strides = {2, 2}, pad = {1, 1};
    dnnl_memory_desc_t md[3];
    check(dnnl_memory_desc_init_by_tag(&md[0], 4, img, dnnl_f32, dnnl_format_tag_any), "image descriptor");
    check(dnnl_memory_desc_init_by_tag(&md[1], 4, wei, dnnl_f32, dnnl_format_tag_any), "weight descriptor");
    check(dnnl_memory_desc_init_by_tag(&md[2], 4, map, dnnl_f32, dnnl_format_tag_any), "map descriptor");
    printf("%d -> %d channels, %dx%d -> %dx%d, batch %d\n", C, O, H, H, HO, HO, N);
    double flops = 2.0 * N * O * HO * HO * C * 16;
    for (int k = 0; k < 3; k++) time_kind(eng, st, k, md, strides, pad, flops);
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}
