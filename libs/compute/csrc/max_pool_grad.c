#include "kernels.h"

/*
 * Max-pool gradient, NHWC: every window's dy goes to its first maximum in row-major window order
 * (strict >, so NaN and −∞ never win; the cpu backend's rule). dx is zeroed here. Four channels at
 * a time keep their running maxima and argmax offsets in two vectors, updated by selects; windows
 * that cannot overlap (stride ≥ size: LeNet's 2×2/2) write dx by vector stores, channel remainders too.
 */
EXPORT(max_pool_grad)
void max_pool_grad(const f32 *x, const f32 *dy, f32 *dx, int batch, int in_h, int in_w, int c, int out_h, int out_w,
                   int f_h, int f_w, int s_h, int s_w, int pad_top, int pad_left) {
  const f32 ninf = -__builtin_inff();
  const int c4 = c & ~3, disjoint = s_h >= f_h && s_w >= f_w && c >= 4;
  __builtin_memset(dx, 0, (unsigned long)batch * in_h * in_w * c * sizeof(f32));
  for (int b = 0; b < batch; b++) {
    for (int oy = 0; oy < out_h; oy++) {
      const int y0 = oy * s_h - pad_top;
      const int y_min = y0 < 0 ? 0 : y0;
      const int y_max = y0 + f_h < in_h ? y0 + f_h : in_h;
      for (int ox = 0; ox < out_w; ox++) {
        const int x0 = ox * s_w - pad_left;
        const int x_min = x0 < 0 ? 0 : x0;
        const int x_max = x0 + f_w < in_w ? x0 + f_w : in_w;
        if (y_min >= y_max || x_min >= x_max) continue;
        const f32 *g = dy + ((b * out_h + oy) * out_w + ox) * c;
        const int corner = ((b * in_h + y_min) * in_w + x_min) * c;
        if (disjoint) {
          /* Each input pixel is in at most this window, so dx is assigned (masked dy, else 0), and the
           * last vector may overlap the one before it (c = 6: channels 0–3, then 2–5): idempotent. */
          for (int ch = 0;; ch += 4) {
            const int cv = ch + 4 <= c ? ch : c - 4;
            v128_t best = wasm_f32x4_splat(ninf);
            v128_t where = wasm_i32x4_splat(-1);
            for (int y = y_min; y < y_max; y++) {
              int idx = corner + (y - y_min) * in_w * c + cv;
              for (int xx = x_min; xx < x_max; xx++, idx += c) {
                const v128_t v = ld(x + idx);
                const v128_t wins = wasm_f32x4_gt(v, best);
                best = wasm_v128_bitselect(v, best, wins);
                where = wasm_v128_bitselect(wasm_i32x4_make(idx, idx + 1, idx + 2, idx + 3), where, wins);
              }
            }
            const v128_t gv = ld(g + cv);
            for (int y = y_min; y < y_max; y++) {
              int idx = corner + (y - y_min) * in_w * c + cv;
              for (int xx = x_min; xx < x_max; xx++, idx += c)
                st(dx + idx, wasm_v128_and(gv, wasm_i32x4_eq(wasm_i32x4_make(idx, idx + 1, idx + 2, idx + 3), where)));
            }
            if (cv == c - 4) break;
          }
          continue;
        }
        int ch = 0;
        for (; ch < c4; ch += 4) {
          v128_t best = wasm_f32x4_splat(ninf);
          v128_t where = wasm_i32x4_splat(-1);
          for (int y = y_min; y < y_max; y++) {
            int idx = corner + (y - y_min) * in_w * c + ch;
            for (int xx = x_min; xx < x_max; xx++, idx += c) {
              const v128_t v = ld(x + idx);
              const v128_t wins = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, wins);
              where = wasm_v128_bitselect(wasm_i32x4_make(idx, idx + 1, idx + 2, idx + 3), where, wins);
            }
          }
          const int w0 = wasm_i32x4_extract_lane(where, 0), w1 = wasm_i32x4_extract_lane(where, 1);
          const int w2 = wasm_i32x4_extract_lane(where, 2), w3 = wasm_i32x4_extract_lane(where, 3);
          if (w0 >= 0) dx[w0] += g[ch];
          if (w1 >= 0) dx[w1] += g[ch + 1];
          if (w2 >= 0) dx[w2] += g[ch + 2];
          if (w3 >= 0) dx[w3] += g[ch + 3];
        }
        for (; ch < c; ch++) {
          f32 best = ninf;
          int where = -1;
          for (int y = y_min; y < y_max; y++) {
            int idx = corner + (y - y_min) * in_w * c + ch;
            for (int xx = x_min; xx < x_max; xx++, idx += c) {
              const f32 v = x[idx];
              const int wins = v > best;
              best = wins ? v : best;
              where = wins ? idx : where;
            }
          }
          if (where >= 0) dx[where] += g[ch];
        }
      }
    }
  }
}
