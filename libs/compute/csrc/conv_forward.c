#include "kernels.h"

/* Stores the first `count` (1..8) floats of two vectors. */
static inline void store_partial(f32 *p, v128_t v0, v128_t v1, int count) {
  if (count >= 4) {
    st(p, v0);
    p += 4;
    count -= 4;
    v0 = v1;
  }
  if (count >= 2) {
    wasm_v128_store64_lane(p, v0, 0);
    p += 2;
    count -= 2;
    v0 = wasm_i64x2_shuffle(v0, v0, 1, 1);
  }
  if (count == 1) wasm_v128_store32_lane(p, v0, 0);
}

/* P adjacent output pixels × (4·NV) output channels of one output row, in registers. */
static inline __attribute__((always_inline)) void conv_tile(const f32 *x, const f32 *w, const f32 *bias, f32 *y,
    int in_w, int ci_n, int co_n, int co_pad, int k_h, int k_w, int s_w, int d_h, int d_w, int row0, int ox, int co0,
    int relu, const int P, const int NV) {
  v128_t a[4][2];
  _Pragma("clang loop unroll(full)")
  for (int p = 0; p < P; p++)
    _Pragma("clang loop unroll(full)")
    for (int v = 0; v < NV; v++) a[p][v] = bias ? ld(bias + co0 + 4 * v) : wasm_f32x4_splat(0.0f);
  const int xs = s_w * ci_n;
  // Without column dilation a filter row's (j, ci) entries are contiguous in x as in w: one loop of
  // k_w·ci_n instead of k_w loops of ci_n (LeNet's 6-channel conv2: 30 instead of 6).
  const int merged = d_w == 1;
  const int taps = merged ? 1 : k_w, run = merged ? k_w * ci_n : ci_n;
  for (int i = 0; i < k_h; i++) {
    for (int j = 0; j < taps; j++) {
      const f32 *xb = x + ((row0 + i * d_h) * in_w + ox * s_w + j * d_w) * ci_n;
      const f32 *wb = w + (i * k_w + j) * ci_n * co_pad + co0;
      for (int ci = 0; ci < run; ci++, wb += co_pad) {
        v128_t wv[2];
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < NV; v++) wv[v] = ld(wb + 4 * v);
        _Pragma("clang loop unroll(full)")
        for (int p = 0; p < P; p++) {
          const v128_t xv = wasm_v128_load32_splat(xb + p * xs + ci);
          _Pragma("clang loop unroll(full)")
          for (int v = 0; v < NV; v++) a[p][v] = wasm_f32x4_add(a[p][v], wasm_f32x4_mul(xv, wv[v]));
        }
      }
    }
  }
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  const int count = co_n - co0 < 4 * NV ? co_n - co0 : 4 * NV;
  _Pragma("clang loop unroll(full)")
  for (int p = 0; p < P; p++) {
    v128_t v0 = a[p][0], v1 = NV > 1 ? a[p][1] : zero4;
    if (relu) v0 = wasm_f32x4_pmax(v0, zero4), v1 = wasm_f32x4_pmax(v1, zero4);
    f32 *out = y + (ox + p) * co_n + co0;
    if (count == 4 * NV) {
      st(out, v0);
      if (NV > 1) st(out + 4, v1);
    } else {
      store_partial(out, v0, v1, count);
    }
  }
}

/* Output rows [r0, r1) of one 4·NV-channel column: 4-pixel tiles, then single pixels. */
#define CONV_ROWS(NV)                                                                                       \
  for (int r = r0; r < r1; r++) {                                                                           \
    const int b = r / out_h, oy = r - b * out_h;                                                            \
    const int row0 = b * in_h + oy * s_h;                                                                   \
    f32 *yr = y + r * out_w * co_n;                                                                         \
    int ox = 0;                                                                                             \
    for (; ox + 4 <= out_w; ox += 4)                                                                        \
      conv_tile(x, w, bias, yr, in_w, ci_n, co_n, co_pad, k_h, k_w, s_w, d_h, d_w, row0, ox, co0, relu, 4, NV); \
    for (; ox < out_w; ox++)                                                                                \
      conv_tile(x, w, bias, yr, in_w, ci_n, co_n, co_pad, k_h, k_w, s_w, d_h, d_w, row0, ox, co0, relu, 1, NV); \
  }

/*
 * Forward convolution, NHWC, on an already padded input (no bounds checks anywhere):
 *   y[b, oy, ox, co] = bias[co] + Σ_{i, j, ci} x[b, oy·s_h + i·d_h, ox·s_w + j·d_w, ci] · w[i, j, ci, co]
 * then max(·, 0) when relu. w is [k_h, k_w, ci_n, co_pad] with co_pad = co_n rounded up to 4 (zero
 * columns), bias (optional, 0 = none) has co_pad entries. Computes the output rows r = b·out_h + oy
 * in [row_begin, row_end), so threads can split rows. Tiles: 4 pixels × 8 channels in registers.
 */
EXPORT(conv2d_forward)
void conv2d_forward(const f32 *x, const f32 *w, const f32 *bias, f32 *y, int in_h, int in_w, int ci_n, int out_h,
                    int out_w, int co_n, int co_pad, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w, int relu,
                    int row_begin, int row_end) {
  // Blocks of output rows share each 8-channel filter column while it is cache-resident: on the deep
  // layers (4×4 or 8×8 outputs, 256-512 channels) one row alone would stream the whole filter.
  const int block = out_w >= 128 ? 1 : 128 / out_w;
  for (int r0 = row_begin; r0 < row_end; r0 += block) {
    const int r1 = r0 + block < row_end ? r0 + block : row_end;
    int co0 = 0;
    for (; co0 + 8 <= co_pad; co0 += 8) CONV_ROWS(2);
    for (; co0 < co_pad; co0 += 4) CONV_ROWS(1);
  }
}

/*
 * 8 (or 4) adjacent output pixels × NC output channels of a one-input-channel, stride-1,
 * dilation-1 convolution: the pixels are the vector lanes (x is contiguous along a row when there is
 * one channel), each channel an accumulator, each tap one (unaligned) load of x and NC weight splats.
 * w/bias have co_pad (even) columns; only channels below co_n are stored.
 */
static inline __attribute__((always_inline)) void conv1_tile(const f32 *xr, const f32 *w, const f32 *bias, f32 *yr,
    int in_w, int co_n, int co_pad, int k_h, int k_w, int ox, int co0, int relu, const int PV, const int NC) {
  v128_t a[2][6];
  _Pragma("clang loop unroll(full)")
  for (int v = 0; v < PV; v++)
    _Pragma("clang loop unroll(full)")
    for (int c = 0; c < NC; c++) a[v][c] = wasm_f32x4_splat(bias ? bias[co0 + c] : 0.0f);
  for (int i = 0; i < k_h; i++) {
    const f32 *xrow = xr + i * in_w + ox;
    const f32 *wt = w + i * k_w * co_pad + co0;
    for (int j = 0; j < k_w; j++, wt += co_pad) {
      v128_t xv[2];
      _Pragma("clang loop unroll(full)")
      for (int v = 0; v < PV; v++) xv[v] = ld(xrow + j + 4 * v);
      _Pragma("clang loop unroll(full)")
      for (int c = 0; c < NC; c++) {
        const v128_t wv = wasm_v128_load32_splat(wt + c);
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < PV; v++) a[v][c] = wasm_f32x4_add(a[v][c], wasm_f32x4_mul(xv[v], wv));
      }
    }
  }
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  _Pragma("clang loop unroll(full)")
  for (int v = 0; v < PV; v++) {
    _Pragma("clang loop unroll(full)")
    for (int c = 0; c < NC; c++) {
      if (co0 + c >= co_n) continue;
      const v128_t r = relu ? wasm_f32x4_pmax(a[v][c], zero4) : a[v][c];
      f32 *out = yr + (ox + 4 * v) * co_n + co0 + c;
      wasm_v128_store32_lane(out, r, 0);
      wasm_v128_store32_lane(out + co_n, r, 1);
      wasm_v128_store32_lane(out + 2 * co_n, r, 2);
      wasm_v128_store32_lane(out + 3 * co_n, r, 3);
    }
  }
}

/* One output pixel, every channel (a row's last out_w mod 4 pixels), scalar. */
static void conv1_pixel(const f32 *xr, const f32 *w, const f32 *bias, f32 *yr, int in_w, int co_n, int co_pad,
                        int k_h, int k_w, int ox, int relu) {
  for (int c = 0; c < co_n; c++) {
    f32 acc = bias ? bias[c] : 0.0f;
    for (int i = 0; i < k_h; i++)
      for (int j = 0; j < k_w; j++) acc += xr[i * in_w + ox + j] * w[(i * k_w + j) * co_pad + c];
    yr[ox * co_n + c] = relu && !(acc > 0.0f) ? 0.0f : acc;
  }
}

/*
 * Forward convolution with one input channel, stride 1, dilation 1, on a padded x [B, in_h, in_w]
 * (grayscale first layers such as LeNet's): w [k_h, k_w, 1, co_pad] with co_pad = co_n rounded up
 * to even (zero columns), optional bias (co_pad entries), ReLU epilogue, output rows
 * r = b·out_h + oy in [row_begin, row_end). Channels go in groups of 6, then of 2.
 */
EXPORT(conv2d_forward_c1)
void conv2d_forward_c1(const f32 *x, const f32 *w, const f32 *bias, f32 *y, int in_h, int in_w, int out_h, int out_w,
                       int co_n, int co_pad, int k_h, int k_w, int relu, int row_begin, int row_end) {
  for (int r = row_begin; r < row_end; r++) {
    const int b = r / out_h, oy = r - b * out_h;
    const f32 *xr = x + (b * in_h + oy) * in_w;
    f32 *yr = y + r * out_w * co_n;
    int ox = 0;
    for (; ox + 8 <= out_w; ox += 8) {
      int co0 = 0;
      for (; co0 + 6 <= co_pad; co0 += 6) conv1_tile(xr, w, bias, yr, in_w, co_n, co_pad, k_h, k_w, ox, co0, relu, 2, 6);
      for (; co0 < co_pad; co0 += 2) conv1_tile(xr, w, bias, yr, in_w, co_n, co_pad, k_h, k_w, ox, co0, relu, 2, 2);
    }
    for (; ox + 4 <= out_w; ox += 4) {
      int co0 = 0;
      for (; co0 + 6 <= co_pad; co0 += 6) conv1_tile(xr, w, bias, yr, in_w, co_n, co_pad, k_h, k_w, ox, co0, relu, 1, 6);
      for (; co0 < co_pad; co0 += 2) conv1_tile(xr, w, bias, yr, in_w, co_n, co_pad, k_h, k_w, ox, co0, relu, 1, 2);
    }
    for (; ox < out_w; ox++) conv1_pixel(xr, w, bias, yr, in_w, co_n, co_pad, k_h, k_w, ox, relu);
  }
}
