/* kde.c — kernel density estimates and colour maps for the plots.
 *
 * 2-D: scipy.stats.gaussian_kde's estimate, which seaborn's kdeplot uses:
 * a Gaussian kernel whose covariance is the data's (unbiased) covariance
 * times Scott's factor squared, n^(-2/(d+4)) = n^(-1/3) for d = 2:
 *     p(g) = 1/n sum_i N(g; x_i, K).
 * Each sample only touches the grid cells within 4 kernel standard
 * deviations (the rest contribute below 3e-4 of the peak), which makes a
 * 200 x 200 grid over 2500 samples a few milliseconds.
 * 1-D: the same with Scott's n^(-1/5) times the sample std. */
#include "internal.h"

#include <math.h>
#include <string.h>

gl_status gl_kde2d_bandwidth(const gl_tensor *s, double K[4])
{
    char b[96];
    if (s->ndim != 2 || s->shape[1] != 2)
        return gl_fail(GL_ERR_SHAPE, "kde: expected N x 2 samples, got %s", gl_tensor_shape_str(s, b, sizeof b));
    int64_t n = s->shape[0];
    if (n < 2) return gl_fail(GL_ERR_ARG, "kde: needs at least 2 samples, got %lld", (long long)n);
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) {
        mx += s->data[2 * i];
        my += s->data[2 * i + 1];
    }
    mx /= (double)n;
    my /= (double)n;
    double cxx = 0, cxy = 0, cyy = 0;
    for (int64_t i = 0; i < n; i++) {
        double dx = s->data[2 * i] - mx, dy = s->data[2 * i + 1] - my;
        if (!isfinite(dx) || !isfinite(dy)) return gl_fail(GL_ERR_ARG, "kde: sample %lld is not finite", (long long)i + 1);
        cxx += dx * dx;
        cxy += dx * dy;
        cyy += dy * dy;
    }
    double f2 = pow((double)n, -1.0 / 3.0); /* Scott's factor, squared */
    K[0] = cxx / (double)(n - 1) * f2;
    K[1] = K[2] = cxy / (double)(n - 1) * f2;
    K[3] = cyy / (double)(n - 1) * f2;
    return GL_OK;
}

gl_status gl_kde2d(gl_tensor **out, const gl_tensor *s, double x0, double x1, double y0, double y1, int W, int H,
                   double min_std)
{
    if (W < 2 || H < 2 || W > 4096 || H > 4096 || !(x1 > x0) || !(y1 > y0))
        return gl_fail(GL_ERR_ARG, "kde: bad grid (%dx%d over [%g, %g] x [%g, %g])", W, H, x0, x1, y0, y1);
    double K[4];
    GL_TRY(gl_kde2d_bandwidth(s, K));
    /* a kernel narrower than min_std (e.g. a pixel or two: a collapsed
     * generator's cloud) is widened to it so it stays visible; a
     * degenerate one (all samples equal) becomes isotropic */
    if (min_std > 0) {
        double m2 = min_std * min_std;
        if (K[0] < m2) K[0] = m2;
        if (K[3] < m2) K[3] = m2;
    }
    double floor_v = 1e-6 * ((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0));
    double det = K[0] * K[3] - K[1] * K[2];
    if (!(det > floor_v * floor_v) || K[0] < floor_v || K[3] < floor_v) {
        double v = fmax(fmax(K[0], K[3]), floor_v);
        K[0] = K[3] = v;
        K[1] = K[2] = 0;
        det = v * v;
    }
    double ia = K[3] / det, ib = -K[1] / det, ic = K[0] / det; /* inverse: [ia ib; ib ic] */
    double norm = 1.0 / (2 * M_PI * sqrt(det) * (double)s->shape[0]);
    double sx = 4 * sqrt(K[0]), sy = 4 * sqrt(K[3]);
    double dx = (x1 - x0) / W, dy = (y1 - y0) / H;
    int64_t shape[2] = {H, W};
    double *acc = calloc((size_t)W * (size_t)H, sizeof(double));
    if (!acc) return gl_fail(GL_ERR_NOMEM, "kde: out of memory");
    for (int64_t i = 0; i < s->shape[0]; i++) {
        double px = s->data[2 * i], py = s->data[2 * i + 1];
        int c0 = (int)floor((px - sx - x0) / dx), c1 = (int)ceil((px + sx - x0) / dx);
        int r0 = (int)floor((py - sy - y0) / dy), r1 = (int)ceil((py + sy - y0) / dy);
        if (c0 < 0) c0 = 0;
        if (r0 < 0) r0 = 0;
        if (c1 > W - 1) c1 = W - 1;
        if (r1 > H - 1) r1 = H - 1;
        for (int r = r0; r <= r1; r++) {
            double gy = y0 + (r + 0.5) * dy - py;
            double *row = acc + (size_t)r * (size_t)W;
            for (int c = c0; c <= c1; c++) {
                double gx = x0 + (c + 0.5) * dx - px;
                row[c] += exp(-0.5 * (ia * gx * gx + 2 * ib * gx * gy + ic * gy * gy));
            }
        }
    }
    gl_tensor *t;
    gl_status st = gl_tensor_new(&t, 2, shape);
    if (st == GL_OK) {
        for (size_t k = 0; k < (size_t)W * (size_t)H; k++) t->data[k] = (float)(acc[k] * norm);
        *out = t;
    }
    free(acc);
    return st;
}

gl_status gl_kde1d(gl_tensor **out, const gl_tensor *v, const gl_tensor *grid)
{
    int64_t n = v->numel;
    if (n < 2) return gl_fail(GL_ERR_ARG, "kde1d: needs at least 2 values, got %lld", (long long)n);
    double m = 0, q = 0;
    for (int64_t i = 0; i < n; i++) m += v->data[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) q += (v->data[i] - m) * (v->data[i] - m);
    double sd = sqrt(q / (double)(n - 1));
    double h = sd * pow((double)n, -0.2);
    if (!(h > 0)) h = 1e-3;
    GL_TRY(gl_tensor_new(out, grid->ndim, grid->shape));
    double norm = 1.0 / (sqrt(2 * M_PI) * h * (double)n);
    for (int64_t g = 0; g < grid->numel; g++) {
        double x = grid->data[g], s = 0;
        for (int64_t i = 0; i < n; i++) {
            double z = (x - v->data[i]) / h;
            if (z > -8 && z < 8) s += exp(-0.5 * z * z);
        }
        (*out)->data[g] = (float)(s * norm);
    }
    return GL_OK;
}

/* Anchor colours (9 each, evenly spaced) of matplotlib's maps. */
static const unsigned char CMAPS[][9][3] = {
    /* Blues */ {{247, 251, 255}, {222, 235, 247}, {198, 219, 239}, {158, 202, 225}, {107, 174, 214}, {66, 146, 198},
                 {33, 113, 181}, {8, 81, 156}, {8, 48, 107}},
    /* Greens */ {{247, 252, 245}, {229, 245, 224}, {199, 233, 192}, {161, 217, 155}, {116, 196, 118}, {65, 171, 93},
                  {35, 139, 69}, {0, 109, 44}, {0, 68, 27}},
    /* viridis */ {{68, 1, 84}, {71, 45, 123}, {59, 82, 139}, {44, 114, 142}, {33, 145, 140}, {40, 174, 128},
                   {94, 201, 98}, {173, 220, 48}, {253, 231, 37}},
};

gl_status gl_colormap(unsigned char *px, int64_t stride, const gl_tensor *grid, int cmap, float vmax)
{
    if (cmap < 0 || cmap >= (int)(sizeof CMAPS / sizeof *CMAPS)) return gl_fail(GL_ERR_ARG, "colormap: unknown map %d", cmap);
    if (grid->ndim != 2) return gl_fail(GL_ERR_SHAPE, "colormap: expected an H x W grid");
    int64_t H = grid->shape[0], W = grid->shape[1];
    if (stride < 4 * W) return gl_fail(GL_ERR_ARG, "colormap: stride %lld is below 4 x %lld", (long long)stride, (long long)W);
    if (!(vmax > 0)) {
        vmax = 0;
        for (int64_t k = 0; k < grid->numel; k++)
            if (grid->data[k] > vmax) vmax = grid->data[k];
        if (!(vmax > 0)) vmax = 1;
    }
    for (int64_t r = 0; r < H; r++) {
        uint32_t *row = (uint32_t *)(px + (H - 1 - r) * stride);
        for (int64_t k = 0; k < W; k++) {
            float t = grid->data[r * W + k] / vmax;
            t = t < 0 ? 0 : (t > 1 ? 1 : t);
            float p = t * 8.0f;
            int i = (int)p;
            if (i > 7) i = 7;
            float f = p - (float)i;
            uint32_t v = 0;
            for (int c = 0; c < 3; c++)
                v = v << 8 | (uint32_t)(unsigned char)(CMAPS[cmap][i][c] + f * (CMAPS[cmap][i + 1][c] - CMAPS[cmap][i][c]) + 0.5f);
            row[k] = v;
        }
    }
    return GL_OK;
}
