#include "kernels.h"

/*
 * What a block of output rows contributes to R rows × (4·NV) output channels of dw, accumulated in
 * registers. The R rows are consecutive (j, ci) entries of one filter row i; o0..o3 are their
 * offsets into the padded x (scalars, not an array: an array would live on the shadow stack). Every
 * call passes constant R, NV and tail, so the partial loads/stores compile to fixed lane operations. `tail` (0 or 1..3) makes the last vector a partial one (channel tail).
 */
static inline __attribute__((always_inline)) void fg_tile(const f32 *x, const f32 *dy, f32 *t, int co_n, int ci_n,
    int in_h, int in_w, int out_h, int out_w, int r0, int rows, int i_off, int s_h, int s_w, int o0, int o1, int o2,
    int o3, int co0, int tail, const int R, const int NV, const int CONTIG) {
  v128_t a[4][2];
  _Pragma("clang loop unroll(full)")
  for (int r = 0; r < R; r++) load_vectors(a[r], t + r * co_n + co0, NV, tail);
  const int xs = s_w * ci_n;
  for (int r = r0; r < r0 + rows; r++) {
    const int b = r / out_h, oy = r - b * out_h;
    const f32 *xp = x + (b * in_h + oy * s_h + i_off) * in_w * ci_n + (CONTIG ? o0 : 0);
    const f32 *dp = dy + r * out_w * co_n + co0;
    for (int ox = 0; ox < out_w; ox++, xp += xs, dp += co_n) {
      v128_t d[2];
      load_vectors(d, dp, NV, tail);
      _Pragma("clang loop unroll(full)")
      for (int q = 0; q < R; q++)
        axpy_row(a[q], wasm_v128_load32_splat(CONTIG ? xp + q : xp + (q == 0 ? o0 : q == 1 ? o1 : q == 2 ? o2 : o3)), d, NV);
    }
  }
  _Pragma("clang loop unroll(full)")
  for (int r = 0; r < R; r++) store_vectors(t + r * co_n + co0, a[r], NV, tail);
}

/* Offset in x of filter-row entry e = j·ci_n + ci. */
static inline int entry_offset(int e, int ci_n, int d_w) {
  const int j = e / ci_n;
  return j * d_w * ci_n + (e - j * ci_n);
}

/* All output-channel tiles of one group of RR filter entries (constant RR and CONTIG throughout). */
#define FG_CALL(TAIL, RR, NVV, CC) \
  fg_tile(x, dy, t, co_n, ci_n, in_h, in_w, out_h, out_w, r0, rows, i * d_h, s_h, s_w, o0, o1, o2, o3, co0, TAIL, RR, NVV, CC)
#define FG_GROUP(RR, CC)                                           \
  do {                                                             \
    int co0 = co_begin;                                            \
    for (; co0 + 8 <= co_vec_end; co0 += 8) FG_CALL(0, RR, 2, CC); \
    for (; co0 < co_vec_end; co0 += 4) FG_CALL(0, RR, 1, CC);     \
    if (tail == 1) FG_CALL(1, RR, 1, CC);                          \
    else if (tail == 2) FG_CALL(2, RR, 1, CC);                     \
    else if (tail == 3) FG_CALL(3, RR, 1, CC);                     \
  } while (0)

/*
 * Convolution filter gradient, NHWC, on an already padded x (every tap in bounds), as a sum of outer
 * products read straight from x and dy (no im2col, no transposes, no weight packing):
 *   dw[i, j, ci, co] = Σ_{b, oy, ox} x[b, oy·s_h + i·d_h, ox·s_w + j·d_w, ci] · dy[b, oy, ox, co]
 * for co in [co_begin, co_end) and filter rows i in [i_begin, i_end) only, so callers can split
 * the output channels (or, with few channels, the filter rows) between threads. dw is walked as k_h rows of k_w·ci_n entries; 4 consecutive entries (whatever mix of j and ci,
 * so ci_n = 1 or 3 tiles as well as 64) × 8 output channels live in eight vector registers while a
 * block of output rows streams past; blocks keep those x and dy rows cache-resident.
 */
EXPORT(conv2d_filter_grad)
void conv2d_filter_grad(const f32 *x, const f32 *dy, f32 *dw, int batch, int in_h, int in_w, int ci_n, int out_h,
                        int out_w, int co_n, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w, int co_begin,
                        int co_end, int i_begin, int i_end) {
  const int block = out_w >= 256 ? 1 : 256 / out_w;
  const int entries = k_w * ci_n;
  const int co_vec_end = co_begin + ((co_end - co_begin) & ~3);
  const int tail = co_end - co_vec_end;
  if (i_end > k_h) i_end = k_h;
  for (int e = i_begin * entries; e < i_end * entries; e++) {
    for (int co = co_begin; co < co_end; co++) dw[e * co_n + co] = 0.0f;
  }
  // Blocks of output rows r = b·out_h + oy may span images, so small outputs (a 1×1 map per image)
  // still stream many pixels through each register tile.
  const int total = batch * out_h;
  {
    for (int r0 = 0; r0 < total; r0 += block) {
      const int rows = r0 + block < total ? block : total - r0;
      for (int i = i_begin; i < i_end; i++) {
        for (int e0 = 0; e0 < entries;) {
          const int R = entries - e0 >= 4 ? 4 : 1;
          const int o0 = entry_offset(e0, ci_n, d_w), o1 = entry_offset(e0 + 1, ci_n, d_w);
          const int o2 = entry_offset(e0 + 2, ci_n, d_w), o3 = entry_offset(e0 + 3, ci_n, d_w);
          f32 *t = dw + (i * entries + e0) * co_n;
          if (R == 4 && ci_n % 4 == 0) FG_GROUP(4, 1);
          else if (R == 4) FG_GROUP(4, 0);
          else FG_GROUP(1, 0);
          e0 += R;
        }
      }
    }
  }
}
