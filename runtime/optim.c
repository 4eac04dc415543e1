/* optim.c — fused optimizer updates: one pass over a parameter, its
 * gradient and its state per step, with PyTorch's update rules (including
 * where weight decay and eps enter). Parameters are written in place and
 * their version bumped, as any in-place write. Each update is compiled per
 * instruction set (GL_CLONES in internal.h). */
#include "internal.h"

#include <math.h>

static gl_status check_same(const char *fn, const gl_tensor *p, const gl_tensor *t, const char *what)
{
    if (t && t->numel != p->numel) {
        char b1[96], b2[96];
        return gl_fail(GL_ERR_SHAPE, "%s: %s %s does not match parameter %s", fn, what, gl_tensor_shape_str(t, b1, sizeof b1),
                       gl_tensor_shape_str(p, b2, sizeof b2));
    }
    return GL_OK;
}

/* d = g + wd p;  buf = d (first step) or momentum buf + (1 - dampening) d;
 * d = d + momentum buf (nesterov) or buf;  p -= lr d */
GL_CLONES gl_status gl_sgd_step(gl_tensor *p, const gl_tensor *g, gl_tensor *buf, const gl_sgd_opts *o, int first)
{
    GL_TRY(check_same("SGD", p, g, "gradient"));
    GL_TRY(check_same("SGD", p, buf, "momentum buffer"));
    float *restrict P = p->data, *restrict B = buf ? buf->data : NULL;
    const float *restrict G = g->data;
    float lr = o->lr, wd = o->weight_decay, mu = o->momentum, damp = 1.0f - o->dampening;
    for (int64_t i = 0; i < p->numel; i++) {
        float d = G[i] + wd * P[i];
        if (B) {
            B[i] = first ? d : mu * B[i] + damp * d;
            d = o->nesterov ? d + mu * B[i] : B[i];
        }
        P[i] -= lr * d;
    }
    gl_tensor_bump(p);
    if (buf) gl_tensor_bump(buf);
    return GL_OK;
}

/* g += wd p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 * vmax = max(vmax, v) (amsgrad);  p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps),
 * computed as p -= (lr/(1-b1^t) sqrt(1-b2^t)) m / (sqrt(v) + eps sqrt(1-b2^t)):
 * the same value with one division an element instead of two (a division
 * and a square root per element were most of a toy G's step) */
GL_CLONES gl_status gl_adam_step(gl_tensor *p, const gl_tensor *g, gl_tensor *m, gl_tensor *v, gl_tensor *vmax,
                       const gl_adam_opts *o, int64_t step)
{
    GL_TRY(check_same("Adam", p, g, "gradient"));
    GL_TRY(check_same("Adam", p, m, "first moment"));
    GL_TRY(check_same("Adam", p, v, "second moment"));
    GL_TRY(check_same("Adam", p, vmax, "max second moment"));
    if (step < 1) return gl_fail(GL_ERR_ARG, "Adam: step %lld must be >= 1", (long long)step);
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps, wd = o->weight_decay;
    double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
    float step_size = (float)(o->lr / bc1 * sqrt(bc2)), eps_s = (float)(eps * sqrt(bc2));
    float *restrict P = p->data, *restrict M = m->data, *restrict V = v->data;
    float *restrict VM = vmax ? vmax->data : NULL;
    const float *restrict G = g->data;
    int64_t n = p->numel;
    if (!VM) { /* the common case, as one vectorisable loop */
        for (int64_t i = 0; i < n; i++) {
            float gi = G[i] + wd * P[i];
            float mi = b1 * M[i] + (1.0f - b1) * gi;
            float vi = b2 * V[i] + (1.0f - b2) * gi * gi;
            M[i] = mi;
            V[i] = vi;
            P[i] -= step_size * mi / (sqrtf(vi) + eps_s);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float gi = G[i] + wd * P[i];
            M[i] = b1 * M[i] + (1.0f - b1) * gi;
            V[i] = b2 * V[i] + (1.0f - b2) * gi * gi;
            float vm = VM[i] > V[i] ? VM[i] : V[i];
            VM[i] = vm;
            P[i] -= step_size * M[i] / (sqrtf(vm) + eps_s);
        }
    }
    gl_tensor_bump(p);
    return GL_OK;
}

/* g += wd p;  sq = alpha sq + (1-alpha) g^2;  ga = alpha ga + (1-alpha) g
 * (centered);  avg = sqrt(sq - ga^2) + eps (centered) or sqrt(sq) + eps;
 * buf = momentum buf + g/avg, p -= lr buf (momentum) or p -= lr g/avg */
GL_CLONES gl_status gl_rmsprop_step(gl_tensor *p, const gl_tensor *g, gl_tensor *sq, gl_tensor *buf, gl_tensor *gavg,
                          const gl_rmsprop_opts *o)
{
    GL_TRY(check_same("RMSprop", p, g, "gradient"));
    GL_TRY(check_same("RMSprop", p, sq, "square average"));
    GL_TRY(check_same("RMSprop", p, buf, "momentum buffer"));
    GL_TRY(check_same("RMSprop", p, gavg, "gradient average"));
    float a = o->alpha, eps = o->eps, wd = o->weight_decay, mu = o->momentum, lr = o->lr;
    float *restrict P = p->data, *restrict S = sq->data, *restrict B = buf ? buf->data : NULL;
    float *restrict GA = gavg ? gavg->data : NULL;
    const float *restrict G = g->data;
    for (int64_t i = 0; i < p->numel; i++) {
        float gi = G[i] + wd * P[i];
        S[i] = a * S[i] + (1.0f - a) * gi * gi;
        float avg;
        if (GA) {
            GA[i] = a * GA[i] + (1.0f - a) * gi;
            avg = sqrtf(S[i] - GA[i] * GA[i]) + eps;
        } else {
            avg = sqrtf(S[i]) + eps;
        }
        if (B) {
            B[i] = mu * B[i] + gi / avg;
            P[i] -= lr * B[i];
        } else {
            P[i] -= lr * gi / avg;
        }
    }
    gl_tensor_bump(p);
    return GL_OK;
}
