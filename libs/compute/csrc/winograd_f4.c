#include "kernels.h"

/*
 * Winograd F(4×4, 3×3): every 4×4 output tile costs 36 products per channel pair instead of 144
 * (F(2×2, 3×3): 64), at the price of transforms with larger coefficients (points 0, ±1, ±2, ∞), so
 * its rounding error is ~10× F(2×2)'s (still ~1e-5 relative). The forward route takes it where
 * it measured faster (src/wasm/conv2d/route.ts).
 */

/* U[ξ][ci][co] = (G·g·Gᵀ)[ξ], G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1], entries e in [e_begin, e_end). */
#define G6(g0, g1, g2, o)                                                                        \
  do {                                                                                           \
    const v128_t s_ = wasm_f32x4_add(g0, g2), h_ = wasm_f32x4_add(wasm_f32x4_mul(g0, q4), g2);    \
    const v128_t a_ = wasm_f32x4_mul(h_, q4), k_ = wasm_f32x4_mul(g1, e8);                         \
    o[0] = wasm_f32x4_mul(g0, q4);                                                               \
    o[1] = wasm_f32x4_mul(wasm_f32x4_add(s_, g1), m6);                                           \
    o[2] = wasm_f32x4_mul(wasm_f32x4_sub(s_, g1), m6);                                           \
    o[3] = wasm_f32x4_mul(wasm_f32x4_add(a_, k_), p6);  /* (g0/16 + g1/8 + g2/4)·⅔ */             \
    o[4] = wasm_f32x4_mul(wasm_f32x4_sub(a_, k_), p6);                                           \
    o[5] = g2;                                                                                   \
  } while (0)

EXPORT(winograd4_filter)
void winograd4_filter(const f32 *w, f32 *u, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  const v128_t q4 = wasm_f32x4_splat(0.25f), e8 = wasm_f32x4_splat(0.125f);
  const v128_t m6 = wasm_f32x4_splat(-1.0f / 6.0f), p6 = wasm_f32x4_splat(4.0f / 6.0f);
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t t[3][6];
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 3; j++) {
      const v128_t g0 = ld(w + j * plane + e), g1 = ld(w + (3 + j) * plane + e), g2 = ld(w + (6 + j) * plane + e);
      v128_t o[6];
      G6(g0, g1, g2, o);
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 6; i++) t[j][i] = o[i];
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 6; i++) {
      v128_t o[6];
      G6(t[0][i], t[1][i], t[2][i], o);
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 6; j++) st(u + (i * 6 + j) * plane + e, o[j]);
    }
  }
}

/* Bᵀ·d for one 6-vector: Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]. */
#define BT6(d, o)                                                                                  \
  do {                                                                                             \
    const v128_t a_ = wasm_f32x4_add(d[3], d[4]), b_ = wasm_f32x4_add(d[1], d[2]);                  \
    const v128_t c_ = wasm_f32x4_sub(d[4], d[3]), e_ = wasm_f32x4_sub(d[1], d[2]);                  \
    const v128_t g_ = wasm_f32x4_sub(d[4], d[2]), h_ = wasm_f32x4_sub(d[3], d[1]);                  \
    const v128_t h2_ = wasm_f32x4_add(h_, h_);                                                     \
    o[0] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(f4, d[0]), wasm_f32x4_mul(f5, d[2])), d[4]); \
    o[1] = wasm_f32x4_sub(a_, wasm_f32x4_mul(f4, b_));                                             \
    o[2] = wasm_f32x4_add(c_, wasm_f32x4_mul(f4, e_));                                             \
    o[3] = wasm_f32x4_add(g_, h2_);                                                                \
    o[4] = wasm_f32x4_sub(g_, h2_);                                                                \
    o[5] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(f4, d[1]), wasm_f32x4_mul(f5, d[3])), d[5]); \
  } while (0)

/*
 * V[ξ][q][ci] = (Bᵀ·d·B)[ξ] for the nt tiles t0.., d the tile's 6×6 input patch, four channels at a
 * time: columns first into tmp (36 vectors of scratch), then rows. Keeping all 36 vectors in
 * registers instead made V8 spill most of them (x64 has 16 vector registers).
 */
static void winograd4_input(const f32 *x, f32 *v, int in_h, int in_w, int ci_n, int tiles_w, int per_image, int t0,
                            int nt, int vs, f32 *tmp) {
  const v128_t f4 = wasm_f32x4_splat(4.0f), f5 = wasm_f32x4_splat(5.0f);
  for (int q = 0; q < nt; q++) {
    const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
    const f32 *p = x + ((b * in_h + 4 * ty) * in_w + 4 * tx) * ci_n;
    for (int c = 0; c < ci_n; c += 4) {
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 6; j++) {
        v128_t d[6], o[6];
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 6; i++) d[i] = ld(p + (i * in_w + j) * ci_n + c);
        BT6(d, o);
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 6; i++) st(tmp + (i * 6 + j) * 4, o[i]);
      }
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 6; i++) {
        v128_t d[6], o[6];
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 6; j++) d[j] = ld(tmp + (i * 6 + j) * 4);
        BT6(d, o);
        f32 *out = v + i * 6 * vs + q * ci_n + c;
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 6; j++) st(out + j * vs, o[j]);
      }
    }
  }
}

/* Aᵀ·m for one 6-vector: Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]. */
#define AT6(m, o)                                                                                \
  do {                                                                                           \
    const v128_t p_ = wasm_f32x4_add(m[1], m[2]), q_ = wasm_f32x4_sub(m[1], m[2]);                \
    const v128_t r_ = wasm_f32x4_add(m[3], m[4]), s_ = wasm_f32x4_sub(m[3], m[4]);                \
    o[0] = wasm_f32x4_add(wasm_f32x4_add(m[0], p_), r_);                                         \
    o[1] = wasm_f32x4_add(q_, wasm_f32x4_add(s_, s_));                                           \
    o[2] = wasm_f32x4_add(p_, wasm_f32x4_mul(f4, r_));                                           \
    o[3] = wasm_f32x4_add(wasm_f32x4_add(q_, wasm_f32x4_mul(f8, s_)), m[5]);                     \
  } while (0)

/* As winograd_conv with 4×4 output tiles: x padded to [batch, 4·tiles_h + 2, 4·tiles_w + 2, ci_n] at least; scratch 36·(PLANE(chunk, ci_n) + PLANE(chunk, co_n) + 4) floats. */
EXPORT(winograd4_conv)
void winograd4_conv(const f32 *x, const f32 *u, const f32 *bias, f32 *y, int in_h, int in_w, int ci_n, int out_h,
                    int out_w, int co_n, int relu, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 3) / 4, tiles_h = (out_h + 3) / 4, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), ms = PLANE(chunk, co_n);
  f32 *v = scratch;                        /* [36][vs] */
  f32 *m = scratch + 36 * vs;              /* [36][ms] */
  f32 *tmp = scratch + 36 * vs + 36 * ms; /* 36 vectors: a tile's half-transformed values */
  const v128_t zero4 = wasm_f32x4_splat(0.0f), f4 = wasm_f32x4_splat(4.0f), f8 = wasm_f32x4_splat(8.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd4_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs, tmp);
    for (int xi = 0; xi < 36; xi++)
      matmul(v + xi * vs, u + xi * ci_n * co_n, m + xi * ms, co_n, ci_n, ci_n, 1, 0, nt);
    const int step = ms;
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 4 * ty, ox = 4 * tx;
      for (int c = 0; c < co_n; c += 4) {
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 6; j++) {
          v128_t e[6], o[4];
          _Pragma("clang loop unroll(full)")
          for (int i = 0; i < 6; i++) e[i] = ld(m + (i * 6 + j) * step + q * co_n + c);
          AT6(e, o);
          _Pragma("clang loop unroll(full)")
          for (int i = 0; i < 4; i++) st(tmp + (i * 6 + j) * 4, o[i]);
        }
        const v128_t bv = bias ? ld(bias + c) : zero4;
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 4; i++) {
          if (oy + i >= out_h) continue;
          v128_t f[6], o[4];
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 6; j++) f[j] = ld(tmp + (i * 6 + j) * 4);
          AT6(f, o);
          f32 *yo = y + ((b * out_h + oy + i) * out_w + ox) * co_n + c;
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 4; j++) {
            if (ox + j >= out_w) continue;
            v128_t r_ = wasm_f32x4_add(o[j], bv);
            if (relu) r_ = wasm_f32x4_pmax(r_, zero4);
            st(yo + j * co_n, r_);
          }
        }
      }
    }
  }
}

/* A·g for one 4-vector (the transpose of AT6): A = [1 0 0 0; 1 1 1 1; 1 −1 1 −1; 1 2 4 8; 1 −2 4 −8; 0 0 0 1]. */
#define A6(g, o)                                                                                   \
  do {                                                                                             \
    const v128_t e_ = wasm_f32x4_add(g[0], g[2]), d_ = wasm_f32x4_add(g[1], g[3]);                  \
    const v128_t e4_ = wasm_f32x4_add(g[0], wasm_f32x4_mul(f4, g[2]));                             \
    const v128_t d8_ = wasm_f32x4_add(wasm_f32x4_add(g[1], g[1]), wasm_f32x4_mul(f8, g[3]));        \
    o[0] = g[0];                                                                                   \
    o[1] = wasm_f32x4_add(e_, d_);                                                                 \
    o[2] = wasm_f32x4_sub(e_, d_);                                                                 \
    o[3] = wasm_f32x4_add(e4_, d8_);                                                               \
    o[4] = wasm_f32x4_sub(e4_, d8_);                                                               \
    o[5] = g[3];                                                                                   \
  } while (0)

/*
 * F(4×4, 3×3) filter gradient, tiles [tile_begin, tile_end): as winograd_filter_grad with 6×6 input
 * patches and Z = A·dy_t·Aᵀ from each 4×4 output-gradient tile (rows and columns past an edge count
 * as 0); du holds [36][ci_n][co_n] per thread, summed and mapped back by winograd4_filter_grad_finish.
 * scratch: 36·(PLANE(chunk, ci_n) + PLANE(chunk, co_n) + 4) floats.
 */
EXPORT(winograd4_filter_grad)
void winograd4_filter_grad(const f32 *x, const f32 *dy, f32 *du, int in_h, int in_w, int ci_n, int out_h, int out_w,
                           int co_n, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 3) / 4, tiles_h = (out_h + 3) / 4, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), zs = PLANE(chunk, co_n);
  f32 *v = scratch;                        /* [36][vs] */
  f32 *z = scratch + 36 * vs;              /* [36][zs] */
  f32 *tmp = scratch + 36 * vs + 36 * zs; /* 36 vectors */
  const v128_t zero4 = wasm_f32x4_splat(0.0f), f4 = wasm_f32x4_splat(4.0f), f8 = wasm_f32x4_splat(8.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd4_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs, tmp);
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 4 * ty, ox = 4 * tx;
      const f32 *g = dy + ((b * out_h + oy) * out_w + ox) * co_n;
      for (int c = 0; c < co_n; c += 4) {
        /* columns: h[k][j] = (A·dy[:, j])[k] into tmp */
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 4; j++) {
          v128_t d[4], o[6];
          _Pragma("clang loop unroll(full)")
          for (int i = 0; i < 4; i++) d[i] = oy + i < out_h && ox + j < out_w ? ld(g + (i * out_w + j) * co_n + c) : zero4;
          A6(d, o);
          _Pragma("clang loop unroll(full)")
          for (int k = 0; k < 6; k++) st(tmp + (k * 4 + j) * 4, o[k]);
        }
        /* rows: Z[k][l] = (A·h[k, :])[l] */
        _Pragma("clang loop unroll(full)")
        for (int k = 0; k < 6; k++) {
          v128_t d[4], o[6];
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 4; j++) d[j] = ld(tmp + (k * 4 + j) * 4);
          A6(d, o);
          f32 *out = z + k * 6 * zs + q * co_n + c;
          _Pragma("clang loop unroll(full)")
          for (int l = 0; l < 6; l++) st(out + l * zs, o[l]);
        }
      }
    }
    /* dU[ξ] += V[ξ]ᵀ·Z[ξ]: [ci_n × nt]·[nt × co_n], V read transposed through its strides. */
    for (int xi = 0; xi < 36; xi++)
      matmul_acc(v + xi * vs, z + xi * zs, du + xi * ci_n * co_n, co_n, nt, 1, ci_n, 0, ci_n);
  }
}

/* Gᵀ·m for one 6-vector (G as in winograd4_filter): 3 outputs. */
#define GT6(m, o)                                                                                              \
  do {                                                                                                         \
    const v128_t s12_ = wasm_f32x4_add(m[1], m[2]), d21_ = wasm_f32x4_sub(m[2], m[1]);                          \
    const v128_t s34_ = wasm_f32x4_add(m[3], m[4]), d34_ = wasm_f32x4_sub(m[3], m[4]);                          \
    o[0] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(q4, m[0]), wasm_f32x4_mul(s6, s12_)), wasm_f32x4_mul(s24, s34_)); \
    o[1] = wasm_f32x4_add(wasm_f32x4_mul(s6, d21_), wasm_f32x4_mul(s12, d34_));                                 \
    o[2] = wasm_f32x4_add(wasm_f32x4_mul(s6, wasm_f32x4_sub(s34_, s12_)), m[5]);                                \
  } while (0)

/* dw = Gᵀ·(Σ_p du_p)·G over `parts` [36][ci_n][co_n] partials, for the filter-plane entries e in [e_begin, e_end). */
EXPORT(winograd4_filter_grad_finish)
void winograd4_filter_grad_finish(const f32 *du, int parts, f32 *dw, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  const v128_t q4 = wasm_f32x4_splat(0.25f), s6 = wasm_f32x4_splat(1.0f / 6.0f);
  const v128_t s12 = wasm_f32x4_splat(1.0f / 12.0f), s24 = wasm_f32x4_splat(1.0f / 24.0f);
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t t[3][6];
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 6; j++) {
      v128_t m[6], o[3];
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 6; i++) {
        v128_t acc = ld(du + (i * 6 + j) * plane + e);
        for (int p = 1; p < parts; p++) acc = wasm_f32x4_add(acc, ld(du + (long)p * 36 * plane + (i * 6 + j) * plane + e));
        m[i] = acc;
      }
      GT6(m, o);
      _Pragma("clang loop unroll(full)")
      for (int a = 0; a < 3; a++) t[a][j] = o[a];
    }
    _Pragma("clang loop unroll(full)")
    for (int a = 0; a < 3; a++) {
      v128_t o[3];
      GT6(t[a], o);
      _Pragma("clang loop unroll(full)")
      for (int b = 0; b < 3; b++) st(dw + (a * 3 + b) * plane + e, o[b]);
    }
  }
}
