#include "kernels.h"

/* MR rows × (4·NV) columns of c = a·b (c += a·b when ACC) in registers; TAIL (0 or 1..3) makes the last vector partial. */
static inline __attribute__((always_inline)) void mm_tile(const f32 *a, const f32 *b, f32 *c, int n, int k_n,
    int a_rs, int a_cs, int i0, int j0, const int MR, const int NV, const int TAIL, const int ACC) {
  v128_t acc[4][2];
  _Pragma("clang loop unroll(full)")
  for (int r = 0; r < MR; r++) {
    if (ACC) {
      load_vectors(acc[r], c + (i0 + r) * n + j0, NV, TAIL);
    } else {
      _Pragma("clang loop unroll(full)")
      for (int v = 0; v < NV; v++) acc[r][v] = wasm_f32x4_splat(0.0f);
    }
  }
  const f32 *ap = a + i0 * a_rs;
  const f32 *bp = b + j0;
  for (int k = 0; k < k_n; k++, ap += a_cs, bp += n) {
    v128_t bv[2];
    load_vectors(bv, bp, NV, TAIL);
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < MR; r++) axpy_row(acc[r], wasm_v128_load32_splat(ap + r * a_rs), bv, NV);
  }
  _Pragma("clang loop unroll(full)")
  for (int r = 0; r < MR; r++) store_vectors(c + (i0 + r) * n + j0, acc[r], NV, TAIL);
}

#define MM_ROW(MR, ACC)                                                                           \
  do {                                                                                            \
    int j0 = 0;                                                                                   \
    for (; j0 + 8 <= n_vec; j0 += 8) mm_tile(a, b, c, n, k_n, a_rs, a_cs, i0, j0, MR, 2, 0, ACC); \
    for (; j0 < n_vec; j0 += 4) mm_tile(a, b, c, n, k_n, a_rs, a_cs, i0, j0, MR, 1, 0, ACC);      \
    if (tail == 1) mm_tile(a, b, c, n, k_n, a_rs, a_cs, i0, j0, MR, 1, 1, ACC);                   \
    else if (tail == 2) mm_tile(a, b, c, n, k_n, a_rs, a_cs, i0, j0, MR, 1, 2, ACC);              \
    else if (tail == 3) mm_tile(a, b, c, n, k_n, a_rs, a_cs, i0, j0, MR, 1, 3, ACC);              \
  } while (0)

/*
 * c[i, j] = Σ_k a[i·a_rs + k·a_cs] · b[k, j] for rows i in [row_begin, row_end): b is [k_n, n]
 * row-major, c is [m, n]; a's strides let it be read transposed in place. Small dense layers and
 * the GEMM conv routes, where XNNPACK's per-call operator creation and weight packing cost more
 * than the product.
 */
EXPORT(matmul)
void matmul(const f32 *a, const f32 *b, f32 *c, int n, int k_n, int a_rs, int a_cs, int row_begin, int row_end) {
  const int n_vec = n & ~3, tail = n - n_vec;
  int i0 = row_begin;
  for (; i0 + 4 <= row_end; i0 += 4) MM_ROW(4, 0);
  for (; i0 < row_end; i0++) MM_ROW(1, 0);
}

/* c += a·b, otherwise as matmul. */
void matmul_acc(const f32 *a, const f32 *b, f32 *c, int n, int k_n, int a_rs, int a_cs, int row_begin, int row_end) {
  const int n_vec = n & ~3, tail = n - n_vec;
  int i0 = row_begin;
  for (; i0 + 4 <= row_end; i0 += 4) MM_ROW(4, 1);
  for (; i0 < row_end; i0++) MM_ROW(1, 1);
}

/* out[j, i] = in[i, j] for an [m, n] matrix (small operands of the GEMM routes). */
EXPORT(transpose2d)
void transpose2d(const f32 *in, f32 *out, int m, int n) {
  for (int i0 = 0; i0 < m; i0 += 8) {
    const int i1 = i0 + 8 < m ? i0 + 8 : m;
    for (int j = 0; j < n; j++)
      for (int i = i0; i < i1; i++) out[j * m + i] = in[i * n + j];
  }
}
