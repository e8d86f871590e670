#include "kernels.h"

/*
 * Winograd F(2×2, 3×3) for 3×3, stride-1, dilation-1 convolutions: every 2×2 output tile costs 16
 * products per (input, output) channel pair instead of 36. U = G·g·Gᵀ per channel pair (the filter
 * transform) is made once per call by winograd_filter; winograd_conv transforms input tiles
 * (V = Bᵀ·d·B), multiplies V[ξ]·U[ξ] for the 16 positions ξ, and transforms back (Y = Aᵀ·M·A), a
 * chunk of tiles at a time so V and M stay in cache. Rounding differs from the direct convolution
 * by ~1e-6 relative (tests hold it to the cpu backend).
 */

/*
 * U[ξ][ci][co] from w[3][3][ci][co] for the filter-plane entries e in [e_begin, e_end) (multiples of
 * 4; threads take disjoint ranges): G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
 */
EXPORT(winograd_filter)
void winograd_filter(const f32 *w, f32 *u, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  const v128_t half = wasm_f32x4_splat(0.5f);
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t t[4][3];
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 3; j++) {
      const v128_t g0 = ld(w + j * plane + e), g1 = ld(w + (3 + j) * plane + e), g2 = ld(w + (6 + j) * plane + e);
      const v128_t s = wasm_f32x4_add(g0, g2);
      t[0][j] = g0;
      t[1][j] = wasm_f32x4_mul(half, wasm_f32x4_add(s, g1));
      t[2][j] = wasm_f32x4_mul(half, wasm_f32x4_sub(s, g1));
      t[3][j] = g2;
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 4; i++) {
      const v128_t s = wasm_f32x4_add(t[i][0], t[i][2]);
      st(u + (i * 4 + 0) * plane + e, t[i][0]);
      st(u + (i * 4 + 1) * plane + e, wasm_f32x4_mul(half, wasm_f32x4_add(s, t[i][1])));
      st(u + (i * 4 + 2) * plane + e, wasm_f32x4_mul(half, wasm_f32x4_sub(s, t[i][1])));
      st(u + (i * 4 + 3) * plane + e, t[i][2]);
    }
  }
}

/*
 * V[ξ][q][ci] = (Bᵀ·d·B)[ξ] for the nt tiles t0.. (d the tile's 4×4 input patch), with
 * Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], four input channels at a time.
 */
static void winograd_input(const f32 *x, f32 *v, int in_h, int in_w, int ci_n, int tiles_w, int per_image, int t0,
                           int nt, int vs) {
  for (int q = 0; q < nt; q++) {
    const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
    const f32 *p = x + ((b * in_h + 2 * ty) * in_w + 2 * tx) * ci_n;
    for (int c = 0; c < ci_n; c += 4) {
      v128_t d[4][4], s[4][4];
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 4; i++)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 4; j++) d[i][j] = ld(p + (i * in_w + j) * ci_n + c);
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 4; j++) {
        s[0][j] = wasm_f32x4_sub(d[0][j], d[2][j]);
        s[1][j] = wasm_f32x4_add(d[1][j], d[2][j]);
        s[2][j] = wasm_f32x4_sub(d[2][j], d[1][j]);
        s[3][j] = wasm_f32x4_sub(d[1][j], d[3][j]);
      }
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 4; i++) {
        f32 *o = v + i * 4 * vs + q * ci_n + c;
        const int step = vs;
        st(o, wasm_f32x4_sub(s[i][0], s[i][2]));
        st(o + step, wasm_f32x4_add(s[i][1], s[i][2]));
        st(o + 2 * step, wasm_f32x4_sub(s[i][2], s[i][1]));
        st(o + 3 * step, wasm_f32x4_sub(s[i][1], s[i][3]));
      }
    }
  }
}

/*
 * Output tiles [tile_begin, tile_end) of y = conv3×3(x) (+ bias, ReLU): x is padded so every tile's
 * 4×4 patch is in bounds ([batch, 2·tiles_h + 2, 2·tiles_w + 2, ci_n] at least), y is
 * [batch, out_h, out_w, co_n] (tiles past an odd edge are computed and not stored). ci_n and co_n
 * multiples of 4. scratch: 16·(PLANE(chunk, ci_n) + PLANE(chunk, co_n)) floats.
 */
EXPORT(winograd_conv)
void winograd_conv(const f32 *x, const f32 *u, const f32 *bias, f32 *y, int in_h, int in_w, int ci_n, int out_h,
                   int out_w, int co_n, int relu, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 1) / 2, tiles_h = (out_h + 1) / 2, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), ms = PLANE(chunk, co_n);
  f32 *v = scratch;           /* [16][vs]: V[ξ][q][ci] */
  f32 *m = scratch + 16 * vs; /* [16][ms]: M[ξ][q][co] */
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs);
    /* M[ξ] = V[ξ]·U[ξ]: 16 products [nt × ci_n]·[ci_n × co_n]. */
    for (int xi = 0; xi < 16; xi++)
      matmul(v + xi * vs, u + xi * ci_n * co_n, m + xi * ms, co_n, ci_n, ci_n, 1, 0, nt);
    /* Y = Aᵀ·M·A with Aᵀ = [1 1 1 0; 0 1 −1 −1], + bias, ReLU; store the in-bounds outputs. */
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 2 * ty, ox = 2 * tx;
      for (int c = 0; c < co_n; c += 4) {
        v128_t e[4][4], f[2][4];
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 4; i++)
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 4; j++) e[i][j] = ld(m + (i * 4 + j) * ms + q * co_n + c);
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 4; j++) {
          f[0][j] = wasm_f32x4_add(wasm_f32x4_add(e[0][j], e[1][j]), e[2][j]);
          f[1][j] = wasm_f32x4_sub(wasm_f32x4_sub(e[1][j], e[2][j]), e[3][j]);
        }
        const v128_t bv = bias ? ld(bias + c) : zero4;
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 2; i++) {
          if (oy + i >= out_h) continue;
          store_pair(y + ((b * out_h + oy + i) * out_w + ox) * co_n + c, co_n,
                     wasm_f32x4_add(wasm_f32x4_add(f[i][0], f[i][1]), f[i][2]),
                     wasm_f32x4_sub(wasm_f32x4_sub(f[i][1], f[i][2]), f[i][3]), bv, relu, ox + 1 < out_w);
        }
      }
    }
  }
}

/*
 * Winograd F(2×2, 3×3) filter gradient, tiles [tile_begin, tile_end): accumulates into du
 * [16][ci_n][co_n] the sums Σ_t V[ξ][t]ᵀ·Z[ξ][t], V the input tiles' transform (as forward) and
 * Z = A·dy_t·Aᵀ (A = [1 0; 1 1; 1 −1; 0 −1]) the 2×2 output-gradient tile spread to 4×4 (rows and
 * columns past an odd edge count as 0). x padded as for winograd_conv; dy is [batch, out_h, out_w,
 * co_n]. du must be zeroed by the caller (threads keep separate partials); winograd_filter_grad_finish
 * sums them and returns dw = Gᵀ·dU·G. scratch: 16·(PLANE(chunk, ci_n) + PLANE(chunk, co_n)) floats.
 */
EXPORT(winograd_filter_grad)
void winograd_filter_grad(const f32 *x, const f32 *dy, f32 *du, int in_h, int in_w, int ci_n, int out_h, int out_w,
                          int co_n, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 1) / 2, tiles_h = (out_h + 1) / 2, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), zs = PLANE(chunk, co_n);
  f32 *v = scratch;           /* [16][vs] */
  f32 *z = scratch + 16 * vs; /* [16][zs] */
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs);
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 2 * ty, ox = 2 * tx;
      const int has_r1 = oy + 1 < out_h, has_c1 = ox + 1 < out_w;
      const f32 *g = dy + ((b * out_h + oy) * out_w + ox) * co_n;
      for (int c = 0; c < co_n; c += 4) {
        v128_t gt[2][2];
        load_tile2(gt, g + c, out_w, co_n, has_r1, has_c1);
        const v128_t g00 = gt[0][0], g01 = gt[0][1], g10 = gt[1][0], g11 = gt[1][1];
        /* rows of A·g: [g0, g0+g1, g0−g1, −g1] for each column */
        v128_t h[4][2];
        h[0][0] = g00, h[0][1] = g01;
        h[1][0] = wasm_f32x4_add(g00, g10), h[1][1] = wasm_f32x4_add(g01, g11);
        h[2][0] = wasm_f32x4_sub(g00, g10), h[2][1] = wasm_f32x4_sub(g01, g11);
        h[3][0] = wasm_f32x4_neg(g10), h[3][1] = wasm_f32x4_neg(g11);
        const int step = zs;
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 4; i++) {
          f32 *o = z + i * 4 * zs + q * co_n + c;
          st(o, h[i][0]);
          st(o + step, wasm_f32x4_add(h[i][0], h[i][1]));
          st(o + 2 * step, wasm_f32x4_sub(h[i][0], h[i][1]));
          st(o + 3 * step, wasm_f32x4_neg(h[i][1]));
        }
      }
    }
    /* dU[ξ] += V[ξ]ᵀ·Z[ξ]: [ci_n × nt]·[nt × co_n], V read transposed through its strides. */
    for (int xi = 0; xi < 16; xi++)
      matmul_acc(v + xi * vs, z + xi * zs, du + xi * ci_n * co_n, co_n, nt, 1, ci_n, 0, ci_n);
  }
}

/*
 * dw[i][j][ci][co] = (Gᵀ·(Σ_p du_p)·G)[i][j], Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1], over `parts`
 * partials, for the filter-plane entries e in [e_begin, e_end) (multiples of 4).
 */
EXPORT(winograd_filter_grad_finish)
void winograd_filter_grad_finish(const f32 *du, int parts, f32 *dw, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  const v128_t half = wasm_f32x4_splat(0.5f);
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t m[4][4], t[3][4];
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 4; i++)
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 4; j++) {
        v128_t acc = ld(du + (i * 4 + j) * plane + e);
        for (int p = 1; p < parts; p++) acc = wasm_f32x4_add(acc, ld(du + (long)p * 16 * plane + (i * 4 + j) * plane + e));
        m[i][j] = acc;
      }
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 4; j++) {
      const v128_t s = wasm_f32x4_mul(half, wasm_f32x4_add(m[1][j], m[2][j]));
      t[0][j] = wasm_f32x4_add(m[0][j], s);
      t[1][j] = wasm_f32x4_mul(half, wasm_f32x4_sub(m[1][j], m[2][j]));
      t[2][j] = wasm_f32x4_add(s, m[3][j]);
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 3; i++) {
      const v128_t s = wasm_f32x4_mul(half, wasm_f32x4_add(t[i][1], t[i][2]));
      st(dw + (i * 3 + 0) * plane + e, wasm_f32x4_add(t[i][0], s));
      st(dw + (i * 3 + 1) * plane + e, wasm_f32x4_mul(half, wasm_f32x4_sub(t[i][1], t[i][2])));
      st(dw + (i * 3 + 2) * plane + e, wasm_f32x4_add(s, t[i][3]));
    }
  }
}
