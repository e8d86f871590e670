/*
 * Per-channel statistics and affine passes (training batch norm, bias + ReLU).
 *
 * Layout: an activation is NHWC flattened to n rows of c channels. The loops walk the flat array in
 * chunks of L = lcm(c, 4) floats, so channel counts like 6 vectorise as well as 64: per-channel
 * arrays are first expanded to L entries (entry j belongs to channel j mod c). Column sums add
 * BLOCK chunks in float and the block totals in double, so a 10^6-row reduction keeps ~1e-7
 * relative accuracy without double-precision arithmetic on every element.
 *
 * scratch: every kernel taking one needs 48·L bytes, 16-byte aligned.
 */
#include "kernels.h"

#define BLOCK 64

static inline int period(int c) { return (c & 3) == 0 ? c : (c & 1) == 0 ? 2 * c : 4 * c; }

static void expand(const f32 *src, int c, int L, f32 *dst) {
  for (int j = 0; j < L; j++) dst[j] = src[j % c];
}

static void zero_acc(f32 *blk, double *tot, int L) {
  for (int j = 0; j < L; j++) {
    blk[j] = 0.0f;
    tot[j] = 0.0;
  }
}

static void flush(f32 *blk, double *tot, int L) {
  for (int j = 0; j < L; j++) {
    tot[j] += (double)blk[j];
    blk[j] = 0.0f;
  }
}

/* out[ch] = scale · Σ_{j ≡ ch mod c} tot[j] (+ the scalar tail's tail[ch]). */
static void fold(const double *tot, const double *tail, int c, int L, f32 scale, f32 *out) {
  for (int ch = 0; ch < c; ch++) {
    double s = tail[ch];
    for (int j = ch; j < L; j += c) s += tot[j];
    out[ch] = (f32)(s * (double)scale);
  }
}

/* out[ch] = scale · Σ_r x[r, ch] */
EXPORT(col_sum)
void col_sum(const f32 *x, int n, int c, f32 scale, f32 *out, f32 *scratch) {
  const int L = period(c);
  f32 *blk = scratch;
  double *tot = (double *)(scratch + L);
  double *tail = tot + L;
  const long total = (long)n * c, chunks = total / L;
  zero_acc(blk, tot, L);
  for (long q0 = 0; q0 < chunks; q0 += BLOCK) {
    const long q1 = q0 + BLOCK < chunks ? q0 + BLOCK : chunks;
    for (long q = q0; q < q1; q++) {
      const f32 *p = x + q * L;
      for (int j = 0; j < L; j += 4) st(blk + j, wasm_f32x4_add(ld(blk + j), ld(p + j)));
    }
    flush(blk, tot, L);
  }
  for (int ch = 0; ch < c; ch++) tail[ch] = 0.0;
  for (long i = chunks * L; i < total; i++) tail[i % c] += x[i];
  fold(tot, tail, c, L, scale, out);
}

/* out[ch] = scale · Σ_r (x[r, ch] − mean[ch])² */
EXPORT(col_sqdev)
void col_sqdev(const f32 *x, const f32 *mean, int n, int c, f32 scale, f32 *out, f32 *scratch) {
  const int L = period(c);
  f32 *blk = scratch;
  double *tot = (double *)(scratch + L);
  double *tail = tot + L;
  f32 *m = (f32 *)(tail + L);
  const long total = (long)n * c, chunks = total / L;
  expand(mean, c, L, m);
  zero_acc(blk, tot, L);
  for (long q0 = 0; q0 < chunks; q0 += BLOCK) {
    const long q1 = q0 + BLOCK < chunks ? q0 + BLOCK : chunks;
    for (long q = q0; q < q1; q++) {
      const f32 *p = x + q * L;
      for (int j = 0; j < L; j += 4) {
        v128_t d = wasm_f32x4_sub(ld(p + j), ld(m + j));
        st(blk + j, wasm_f32x4_add(ld(blk + j), wasm_f32x4_mul(d, d)));
      }
    }
    flush(blk, tot, L);
  }
  for (int ch = 0; ch < c; ch++) tail[ch] = 0.0;
  for (long i = chunks * L; i < total; i++) {
    f32 d = x[i] - mean[i % c];
    tail[i % c] += d * d;
  }
  fold(tot, tail, c, L, scale, out);
}

/*
 * The two reductions of batch-norm's backward pass, with an optional ReLU mask applied to dy first
 * (mask != 0: g = mask > 0 ? dy : 0, mask being the fused layer's output y):
 * sum_g[ch] = Σ_r g,  sum_gxc[ch] = Σ_r g · (x − mean).
 */
EXPORT(bn_backward_sums)
void bn_backward_sums(const f32 *dy, const f32 *x, const f32 *mean, const f32 *mask, int n, int c,
                      f32 *sum_g, f32 *sum_gxc, f32 *scratch) {
  const int L = period(c);
  f32 *blk = scratch, *blk2 = scratch + L;
  double *tot = (double *)(scratch + 2 * L), *tot2 = tot + L, *tail = tot2 + L, *tail2 = tail + L;
  f32 *m = (f32 *)(tail2 + L);
  const long total = (long)n * c, chunks = total / L;
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  expand(mean, c, L, m);
  zero_acc(blk, tot, L);
  zero_acc(blk2, tot2, L);
  for (long q0 = 0; q0 < chunks; q0 += BLOCK) {
    const long q1 = q0 + BLOCK < chunks ? q0 + BLOCK : chunks;
    for (long q = q0; q < q1; q++) {
      const long o = q * L;
      for (int j = 0; j < L; j += 4) {
        v128_t g = ld(dy + o + j);
        if (mask) g = wasm_v128_and(g, wasm_f32x4_gt(ld(mask + o + j), zero4));
        v128_t d = wasm_f32x4_sub(ld(x + o + j), ld(m + j));
        st(blk + j, wasm_f32x4_add(ld(blk + j), g));
        st(blk2 + j, wasm_f32x4_add(ld(blk2 + j), wasm_f32x4_mul(g, d)));
      }
    }
    flush(blk, tot, L);
    flush(blk2, tot2, L);
  }
  for (int ch = 0; ch < c; ch++) tail[ch] = tail2[ch] = 0.0;
  for (long i = chunks * L; i < total; i++) {
    f32 g = dy[i];
    if (mask && !(mask[i] > 0.0f)) g = 0.0f;
    tail[i % c] += g;
    tail2[i % c] += g * (x[i] - mean[i % c]);
  }
  fold(tot, tail, c, L, 1.0f, sum_g);
  fold(tot2, tail2, c, L, 1.0f, sum_gxc);
}

/* y = x · scale[ch] + shift[ch] (scale 0 pointer: 1), then max(·, 0) when relu != 0. */
EXPORT(channel_affine)
void channel_affine(const f32 *x, int n, int c, const f32 *scale, const f32 *shift, int relu, f32 *y, f32 *scratch) {
  const int L = period(c);
  f32 *sc = scratch, *sh = scratch + L;
  const long total = (long)n * c, chunks = total / L;
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  if (scale) expand(scale, c, L, sc);
  else for (int j = 0; j < L; j++) sc[j] = 1.0f;
  expand(shift, c, L, sh);
  for (long q = 0; q < chunks; q++) {
    const long o = q * L;
    for (int j = 0; j < L; j += 4) {
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(ld(x + o + j), ld(sc + j)), ld(sh + j));
      if (relu) v = wasm_f32x4_pmax(v, zero4);
      st(y + o + j, v);
    }
  }
  for (long i = chunks * L; i < total; i++) {
    f32 v = x[i] * sc[i % c] + sh[i % c];
    y[i] = relu && !(v > 0.0f) ? 0.0f : v;
  }
}

/*
 * Batch-norm's input gradient: dx = a[ch] · g + b[ch] · (x − mean[ch]) + k[ch], g being dy masked by
 * the fused ReLU as in bn_backward_sums. The per-channel coefficients are formed by the caller.
 */
EXPORT(bn_backward_dx)
void bn_backward_dx(const f32 *dy, const f32 *x, const f32 *mean, const f32 *mask, int n, int c,
                    const f32 *a, const f32 *b, const f32 *k, f32 *dx, f32 *scratch) {
  const int L = period(c);
  f32 *m = scratch, *ea = scratch + L, *eb = scratch + 2 * L, *ek = scratch + 3 * L;
  const long total = (long)n * c, chunks = total / L;
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  expand(mean, c, L, m);
  expand(a, c, L, ea);
  expand(b, c, L, eb);
  expand(k, c, L, ek);
  for (long q = 0; q < chunks; q++) {
    const long o = q * L;
    for (int j = 0; j < L; j += 4) {
      v128_t g = ld(dy + o + j);
      if (mask) g = wasm_v128_and(g, wasm_f32x4_gt(ld(mask + o + j), zero4));
      v128_t d = wasm_f32x4_sub(ld(x + o + j), ld(m + j));
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(ld(ea + j), g), wasm_f32x4_mul(ld(eb + j), d));
      st(dx + o + j, wasm_f32x4_add(v, ld(ek + j)));
    }
  }
  for (long i = chunks * L; i < total; i++) {
    const int ch = i % c;
    f32 g = dy[i];
    if (mask && !(mask[i] > 0.0f)) g = 0.0f;
    dx[i] = a[ch] * g + b[ch] * (x[i] - mean[ch]) + k[ch];
  }
}

/* g = y > 0 ? dy : 0 written to dx, and its column sums (a bias gradient) to sum_g. */
EXPORT(relu_backward_col_sum)
void relu_backward_col_sum(const f32 *dy, const f32 *y, int n, int c, f32 *dx, f32 *sum_g, f32 *scratch) {
  const int L = period(c);
  f32 *blk = scratch;
  double *tot = (double *)(scratch + L);
  double *tail = tot + L;
  const long total = (long)n * c, chunks = total / L;
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  zero_acc(blk, tot, L);
  for (long q0 = 0; q0 < chunks; q0 += BLOCK) {
    const long q1 = q0 + BLOCK < chunks ? q0 + BLOCK : chunks;
    for (long q = q0; q < q1; q++) {
      const long o = q * L;
      for (int j = 0; j < L; j += 4) {
        v128_t g = wasm_v128_and(ld(dy + o + j), wasm_f32x4_gt(ld(y + o + j), zero4));
        st(dx + o + j, g);
        st(blk + j, wasm_f32x4_add(ld(blk + j), g));
      }
    }
    flush(blk, tot, L);
  }
  for (int ch = 0; ch < c; ch++) tail[ch] = 0.0;
  for (long i = chunks * L; i < total; i++) {
    f32 g = y[i] > 0.0f ? dy[i] : 0.0f;
    dx[i] = g;
    tail[i % c] += g;
  }
  fold(tot, tail, c, L, 1.0f, sum_g);
}
