/*
 * Float64 Gram matrices for covariance estimates: acc += Σ_r x_rᵀ·x_r over a block of rows. numpy's
 * np.cov (what sklearn's EmpiricalCovariance calls) works in float64; so do these, with f64x2 SIMD.
 */
#include "kernels.h"

typedef double f64;

/*
 * acc[i, j] += Σ_{r < rows} x[r, i]·x[r, j] for the 4×4 tiles with tile-row t in [tile_begin,
 * tile_end) and tile-column ≥ t (the upper triangle of tiles). acc is row-major [dim_p, dim_p],
 * dim_p a multiple of 4. x is packed in panels of 4 features: panel p (features 4p..4p+3) starts at
 * x + 4·p·panel_rows and holds row r's 4 values at [4r, 4r + 4). Row-major rows put consecutive rows
 * a page apart at D = 512, so each tile's walk down the block missed the TLB and the prefetcher on
 * every row; a panel is one contiguous stream. Each entry is summed by exactly one call in row
 * order, so the result does not depend on how the tile rows are split between threads.
 */
EXPORT(gram_f64)
void gram_f64(const f64 *x, int rows, int panel_rows, int dim_p, f64 *acc, int tile_begin, int tile_end) {
  const int tiles = dim_p / 4;
  for (int t = tile_begin; t < tile_end; t++) {
    const int i = 4 * t;
    const f64 *pa = x + 4 * t * panel_rows;
    for (int u = t; u < tiles; u++) {
      const int j = 4 * u;
      const f64 *pb = x + 4 * u * panel_rows;
      v128_t s[4][2];
      _Pragma("clang loop unroll(full)")
      for (int a = 0; a < 4; a++) {
        s[a][0] = wasm_v128_load(acc + (i + a) * dim_p + j);
        s[a][1] = wasm_v128_load(acc + (i + a) * dim_p + j + 2);
      }
      for (int r = 0; r < rows; r++) {
        const v128_t y0 = wasm_v128_load(pb + 4 * r), y1 = wasm_v128_load(pb + 4 * r + 2);
        _Pragma("clang loop unroll(full)")
        for (int a = 0; a < 4; a++) {
          const v128_t xa = wasm_v128_load64_splat(pa + 4 * r + a);
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
