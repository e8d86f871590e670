/*
 * Float64 Gram matrices for covariance estimates: acc += Σ_r x_rᵀ·x_r over a block of rows. numpy's
 * np.cov (what sklearn's EmpiricalCovariance calls) works in float64; so do these, with f64x2 SIMD.
 */
#include "kernels.h"

typedef double f64;

/*
 * acc[i, j] += Σ_{r < rows} x[r, i]·x[r, j] for the 4×4 tiles with tile-row t in [tile_begin,
 * tile_end) and tile-column ≥ t (the upper triangle of tiles). x is row-major [rows, dim_p], acc
 * [dim_p, dim_p], dim_p a multiple of 4. Each entry is summed by exactly one call in row order, so
 * the result does not depend on how the tile rows are split between threads.
 */
EXPORT(gram_f64)
void gram_f64(const f64 *x, int rows, int dim_p, f64 *acc, int tile_begin, int tile_end) {
  for (int t = tile_begin; t < tile_end; t++) {
    const int i = 4 * t;
    for (int j = i; j < dim_p; j += 4) {
      v128_t s[4][2];
      _Pragma("clang loop unroll(full)")
      for (int a = 0; a < 4; a++) {
        s[a][0] = wasm_v128_load(acc + (i + a) * dim_p + j);
        s[a][1] = wasm_v128_load(acc + (i + a) * dim_p + j + 2);
      }
      const f64 *p = x;
      for (int r = 0; r < rows; r++, p += dim_p) {
        const v128_t y0 = wasm_v128_load(p + j), y1 = wasm_v128_load(p + j + 2);
        _Pragma("clang loop unroll(full)")
        for (int a = 0; a < 4; a++) {
          const v128_t xa = wasm_v128_load64_splat(p + i + a);
          s[a][0] = wasm_f64x2_add(s[a][0], wasm_f64x2_mul(xa, y0));
          s[a][1] = wasm_f64x2_add(s[a][1], wasm_f64x2_mul(xa, y1));
        }
      }
      _Pragma("clang loop unroll(full)")
      for (int a = 0; a < 4; a++) {
        wasm_v128_store(acc + (i + a) * dim_p + j, s[a][0]);
        wasm_v128_store(acc + (i + a) * dim_p + j + 2, s[a][1]);
      }
    }
  }
}
