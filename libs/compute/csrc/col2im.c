#include "kernels.h"

/*
 * col2im: adds every column entry cols[p, (i, j, ci)] to the input pixel its tap read, for the
 * images b in [b_begin, b_end) of a chunk whose column rows start at image b0 (threads take
 * disjoint images, so their writes never overlap). The input gradient's GEMM route.
 */
EXPORT(col2im_add)
void col2im_add(const f32 *cols, f32 *dx, int b0, int b_begin, int b_end, int in_h, int in_w, int ci_n, int out_h,
                int out_w, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w, int pad_top, int pad_left) {
  const int kk = k_h * k_w * ci_n, c4 = ci_n & ~3;
  for (int b = b_begin; b < b_end; b++) {
    for (int oy = 0; oy < out_h; oy++) {
      for (int ox = 0; ox < out_w; ox++) {
        const f32 *src = cols + (((b - b0) * out_h + oy) * out_w + ox) * kk;
        for (int i = 0; i < k_h; i++) {
          const int y = oy * s_h + i * d_h - pad_top;
          if (y < 0 || y >= in_h) continue;
          for (int j = 0; j < k_w; j++) {
            const int x = ox * s_w + j * d_w - pad_left;
            if (x < 0 || x >= in_w) continue;
            const f32 *s = src + (i * k_w + j) * ci_n;
            f32 *d = dx + ((b * in_h + y) * in_w + x) * ci_n;
            int c = 0;
            for (; c < c4; c += 4) st(d + c, wasm_f32x4_add(ld(d + c), ld(s + c)));
            for (; c < ci_n; c++) d[c] += s[c];
          }
        }
      }
    }
  }
}
