#include "kernels.h"

/*
 * Stride-2 3×3 convolutions by a Winograd-style split (2×2 output tiles, 5×5 input patches 4 apart):
 * per dimension the even input phase meets taps (g0, g2) — a 2-tap F(2, 2): (d0 − d2)·g0,
 * d2·(g0 + g2), (d4 − d2)·g2 — and the odd phase tap g1 directly: d1·g1, d3·g1. That is 5 products
 * for 2 outputs instead of 6, so 25 instead of 36 per output tile and channel pair, and every
 * transform coefficient is ±1 (rounding as F(2×2, 3×3)).
 */

/* U[ξ][ci][co] = (G·g·Gᵀ)[ξ], G = [1 0 0; 1 0 1; 0 0 1; 0 1 0; 0 1 0], entries e in [e_begin, e_end). */
EXPORT(winograd_s2_filter)
void winograd_s2_filter(const f32 *w, f32 *u, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t t[5][3];
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 3; j++) {
      const v128_t g0 = ld(w + j * plane + e), g1 = ld(w + (3 + j) * plane + e), g2 = ld(w + (6 + j) * plane + e);
      t[0][j] = g0, t[1][j] = wasm_f32x4_add(g0, g2), t[2][j] = g2, t[3][j] = g1, t[4][j] = g1;
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 5; i++) {
      f32 *o = u + i * 5 * plane + e;
      st(o, t[i][0]);
      st(o + plane, wasm_f32x4_add(t[i][0], t[i][2]));
      st(o + 2 * plane, t[i][2]);
      st(o + 3 * plane, t[i][1]);
      st(o + 4 * plane, t[i][1]);
    }
  }
}

/* V[ξ][q][ci] = (Bᵀ·d·B)[ξ] for the nt tiles t0.., d the tile's 5×5 patch; Bᵀ·d = (d0 − d2, d2, d4 − d2, d1, d3). */
static void winograd_s2_input(const f32 *x, f32 *v, int in_h, int in_w, int ci_n, int tiles_w, int per_image, int t0,
                              int nt, int vs) {
  const int step = vs;
  for (int q = 0; q < nt; q++) {
    const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
    const f32 *p = x + ((b * in_h + 4 * ty) * in_w + 4 * tx) * ci_n;
    for (int c = 0; c < ci_n; c += 4) {
      v128_t s[5][5];
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 5; j++) {
        v128_t d[5];
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 5; i++) d[i] = ld(p + (i * in_w + j) * ci_n + c);
        s[0][j] = wasm_f32x4_sub(d[0], d[2]), s[1][j] = d[2], s[2][j] = wasm_f32x4_sub(d[4], d[2]);
        s[3][j] = d[1], s[4][j] = d[3];
      }
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 5; i++) {
        f32 *o = v + i * 5 * vs + q * ci_n + c;
        st(o, wasm_f32x4_sub(s[i][0], s[i][2]));
        st(o + step, s[i][2]);
        st(o + 2 * step, wasm_f32x4_sub(s[i][4], s[i][2]));
        st(o + 3 * step, s[i][1]);
        st(o + 4 * step, s[i][3]);
      }
    }
  }
}

/*
 * As winograd_conv for stride 2: output tile (ty, tx) reads the padded x from row 4·ty, column 4·tx
 * (x at least [batch, 4·tiles_h + 1, 4·tiles_w + 1, ci_n]); scratch 25·(PLANE(chunk, ci_n) + PLANE(chunk, co_n)) floats.
 * Aᵀ = [1 1 0 1 0; 0 1 1 0 1].
 */
EXPORT(winograd_s2_conv)
void winograd_s2_conv(const f32 *x, const f32 *u, const f32 *bias, f32 *y, int in_h, int in_w, int ci_n, int out_h,
                      int out_w, int co_n, int relu, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 1) / 2, tiles_h = (out_h + 1) / 2, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), ms = PLANE(chunk, co_n);
  f32 *v = scratch;           /* [25][vs] */
  f32 *m = scratch + 25 * vs; /* [25][ms] */
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd_s2_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs);
    for (int xi = 0; xi < 25; xi++)
      matmul(v + xi * vs, u + xi * ci_n * co_n, m + xi * ms, co_n, ci_n, ci_n, 1, 0, nt);
    const int step = ms;
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 2 * ty, ox = 2 * tx;
      for (int c = 0; c < co_n; c += 4) {
        v128_t f[2][5];
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 5; j++) {
          v128_t e[5];
          _Pragma("clang loop unroll(full)")
          for (int i = 0; i < 5; i++) e[i] = ld(m + (i * 5 + j) * step + q * co_n + c);
          f[0][j] = wasm_f32x4_add(wasm_f32x4_add(e[0], e[1]), e[3]);
          f[1][j] = wasm_f32x4_add(wasm_f32x4_add(e[1], e[2]), e[4]);
        }
        const v128_t bv = bias ? ld(bias + c) : zero4;
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 2; i++) {
          if (oy + i >= out_h) continue;
          store_pair(y + ((b * out_h + oy + i) * out_w + ox) * co_n + c, co_n,
                     wasm_f32x4_add(wasm_f32x4_add(f[i][0], f[i][1]), f[i][3]),
                     wasm_f32x4_add(wasm_f32x4_add(f[i][1], f[i][2]), f[i][4]), bv, relu, ox + 1 < out_w);
        }
      }
    }
  }
}

/*
 * Z[ξ][q][co] = (A·dy_t·Aᵀ)[ξ] for the nt dy tiles t0.. (2×2, zeros past an edge), A = [1 0; 1 1; 0 1;
 * 1 0; 0 1]: what the split's filter and input gradients multiply.
 */
static void s2_dy_transform(const f32 *dy, f32 *z, int zs, int out_h, int out_w, int co_n, int tiles_w, int per_image,
                            int t0, int nt) {
  for (int q = 0; q < nt; q++) {
    const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
    const int oy = 2 * ty, ox = 2 * tx;
    const int has_r1 = oy + 1 < out_h, has_c1 = ox + 1 < out_w;
    const f32 *g = dy + ((b * out_h + oy) * out_w + ox) * co_n;
    for (int c = 0; c < co_n; c += 4) {
      v128_t gt[2][2];
      load_tile2(gt, g + c, out_w, co_n, has_r1, has_c1);
      const v128_t g00 = gt[0][0], g01 = gt[0][1], g10 = gt[1][0], g11 = gt[1][1];
      /* rows of A·g for each column: [g0, g0 + g1, g1, g0, g1] */
      v128_t h[5][2];
      h[0][0] = g00, h[0][1] = g01;
      h[1][0] = wasm_f32x4_add(g00, g10), h[1][1] = wasm_f32x4_add(g01, g11);
      h[2][0] = g10, h[2][1] = g11;
      h[3][0] = g00, h[3][1] = g01;
      h[4][0] = g10, h[4][1] = g11;
      _Pragma("clang loop unroll(full)")
      for (int k = 0; k < 5; k++) {
        f32 *o = z + k * 5 * zs + q * co_n + c;
        st(o, h[k][0]);
        st(o + zs, wasm_f32x4_add(h[k][0], h[k][1]));
        st(o + 2 * zs, h[k][1]);
        st(o + 3 * zs, h[k][0]);
        st(o + 4 * zs, h[k][1]);
      }
    }
  }
}

/*
 * Filter gradient of the stride-2 split, tiles [tile_begin, tile_end): dU[ξ] += V[ξ]ᵀ·Z[ξ] with V as
 * in winograd_s2_conv and Z = A·dy_t·Aᵀ, A = [1 0; 1 1; 0 1; 1 0; 0 1] (the transpose of its Aᵀ), from
 * each 2×2 output-gradient tile (past an edge: 0); du holds [25][ci_n][co_n] per thread, summed and
 * mapped back by winograd_s2_filter_grad_finish. scratch: 25·(PLANE(chunk, ci_n) + PLANE(chunk, co_n)) floats.
 */
EXPORT(winograd_s2_filter_grad)
void winograd_s2_filter_grad(const f32 *x, const f32 *dy, f32 *du, int in_h, int in_w, int ci_n, int out_h, int out_w,
                             int co_n, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 1) / 2, tiles_h = (out_h + 1) / 2, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), zs = PLANE(chunk, co_n);
  f32 *v = scratch;           /* [25][vs] */
  f32 *z = scratch + 25 * vs; /* [25][zs] */
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd_s2_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs);
    s2_dy_transform(dy, z, zs, out_h, out_w, co_n, tiles_w, per_image, t0, nt);
    for (int xi = 0; xi < 25; xi++)
      matmul_acc(v + xi * vs, z + xi * zs, du + xi * ci_n * co_n, co_n, nt, 1, ci_n, 0, ci_n);
  }
}

/* dw = Gᵀ·(Σ_p du_p)·G for the stride-2 split, Gᵀ = [1 1 0 0 0; 0 0 0 1 1; 0 1 1 0 0], entries e in [e_begin, e_end). */
EXPORT(winograd_s2_filter_grad_finish)
void winograd_s2_filter_grad_finish(const f32 *du, int parts, f32 *dw, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t t[3][5];
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 5; j++) {
      v128_t m[5];
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 5; i++) {
        v128_t acc = ld(du + (i * 5 + j) * plane + e);
        for (int p = 1; p < parts; p++) acc = wasm_f32x4_add(acc, ld(du + (long)p * 25 * plane + (i * 5 + j) * plane + e));
        m[i] = acc;
      }
      t[0][j] = wasm_f32x4_add(m[0], m[1]), t[1][j] = wasm_f32x4_add(m[3], m[4]), t[2][j] = wasm_f32x4_add(m[1], m[2]);
    }
    _Pragma("clang loop unroll(full)")
    for (int a = 0; a < 3; a++) {
      st(dw + (a * 3 + 0) * plane + e, wasm_f32x4_add(t[a][0], t[a][1]));
      st(dw + (a * 3 + 1) * plane + e, wasm_f32x4_add(t[a][3], t[a][4]));
      st(dw + (a * 3 + 2) * plane + e, wasm_f32x4_add(t[a][1], t[a][2]));
    }
  }
}

/*
 * Input gradient of the stride-2 split (the adjoint of winograd_s2_conv), tiles [tile_begin, tile_end)
 * of dy, which must cover whole images (a thread's patches then never overlap another's):
 * Z = A·dy_t·Aᵀ (as in winograd_s2_filter_grad), M[ξ] = Z[ξ]·Uᵗ[ξ] with ut = [25][co_n][ci_n] (the
 * filter transform of the channel-transposed filter), and B·M·Bᵀ added into the 5×5 patch of the
 * zeroed, padded dx [batch, p_h, p_w, ci_n] at (4·ty, 4·tx): patches overlap by one row and column,
 * hence the accumulation. B·m = (m0, m3, m1 − m0 − m2, m4, m2).
 * scratch: 25·(PLANE(chunk, ci_n) + PLANE(chunk, co_n) + 4) floats.
 */
EXPORT(winograd_s2_input_grad)
void winograd_s2_input_grad(const f32 *dy, const f32 *ut, f32 *dxp, int p_h, int p_w, int ci_n, int out_h, int out_w,
                            int co_n, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 1) / 2, tiles_h = (out_h + 1) / 2, per_image = tiles_w * tiles_h;
  const int zs = PLANE(chunk, co_n), ms = PLANE(chunk, ci_n);
  f32 *z = scratch;                        /* [25][zs] */
  f32 *m = scratch + 25 * zs;              /* [25][ms] */
  f32 *tmp = scratch + 25 * zs + 25 * ms; /* 25 vectors */
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    s2_dy_transform(dy, z, zs, out_h, out_w, co_n, tiles_w, per_image, t0, nt);
    /* M[ξ] = Z[ξ]·Uᵗ[ξ]: [nt × co_n]·[co_n × ci_n]. */
    for (int xi = 0; xi < 25; xi++)
      matmul(z + xi * zs, ut + xi * co_n * ci_n, m + xi * ms, ci_n, co_n, co_n, 1, 0, nt);
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      f32 *patch = dxp + ((b * p_h + 4 * ty) * p_w + 4 * tx) * ci_n;
      for (int c = 0; c < ci_n; c += 4) {
        /* columns: t[k][j] = (B·M[:, j])[k] into tmp */
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 5; j++) {
          v128_t e[5];
          _Pragma("clang loop unroll(full)")
          for (int i = 0; i < 5; i++) e[i] = ld(m + (i * 5 + j) * ms + q * ci_n + c);
          st(tmp + (0 * 5 + j) * 4, e[0]);
          st(tmp + (1 * 5 + j) * 4, e[3]);
          st(tmp + (2 * 5 + j) * 4, wasm_f32x4_sub(wasm_f32x4_sub(e[1], e[0]), e[2]));
          st(tmp + (3 * 5 + j) * 4, e[4]);
          st(tmp + (4 * 5 + j) * 4, e[2]);
        }
        /* rows, added into the patch */
        _Pragma("clang loop unroll(full)")
        for (int k = 0; k < 5; k++) {
          v128_t e[5], o[5];
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 5; j++) e[j] = ld(tmp + (k * 5 + j) * 4);
          o[0] = e[0], o[1] = e[3], o[2] = wasm_f32x4_sub(wasm_f32x4_sub(e[1], e[0]), e[2]), o[3] = e[4], o[4] = e[2];
          f32 *row = patch + k * p_w * ci_n + c;
          _Pragma("clang loop unroll(full)")
          for (int l = 0; l < 5; l++) st(row + l * ci_n, wasm_f32x4_add(ld(row + l * ci_n), o[l]));
        }
      }
    }
  }
}
