/*
 * Exact nearest-neighbour search and the relation-graph score: query·bank inner products computed
 * tile by tile in registers (never a full score matrix), each tile consumed at once by a running
 * top-k (knn family) or a threshold-power sum (relation).
 *
 * The bank is packed once into panels of PANEL rows: panel p holds rows [8p, 8p + 8) as [dim][8],
 * so one step of the microkernel loads the 8 rows' values at one coordinate as two vectors and
 * multiplies them by MR splatted query values (an MR × 8 outer product, 2·MR accumulators). Rows
 * past the bank's end are zero (squared norm 0, probabilities 0).
 *
 * Every inner product is summed over the coordinates in order 0..dim−1 in one lane, and a query's
 * candidates are offered in bank order, whatever the split of query rows between calls: the output
 * does not depend on the thread count.
 */
#include "kernels.h"

typedef double f64;

#define PANEL 8
/* Query rows per register tile: 12 accumulators + 2 bank vectors + 1 splat fit x86's 16 xmm. */
#define TILE_ROWS 6
/* Per-call scratch: a tile's inner products. */
#define SCRATCH_FLOATS (TILE_ROWS * PANEL)

/*
 * packed[p][d][j] = rows[8p + j, d] (zero past row n), sq_norms[8p + j] = ‖row‖² (0 past n) for the
 * panels [panel_begin, panel_end) of a row-major [n, dim] matrix.
 */
EXPORT(neighbour_pack)
void neighbour_pack(const f32 *rows, int n, int dim, f32 *packed, f32 *sq_norms, int panel_begin, int panel_end) {
  for (int p = panel_begin; p < panel_end; p++) {
    f32 *dst = packed + p * dim * PANEL;
    for (int j = 0; j < PANEL; j++) {
      const int r = p * PANEL + j;
      f32 s = 0.0f;
      if (r < n) {
        const f32 *src = rows + r * dim;
        for (int d = 0; d < dim; d++) {
          dst[d * PANEL + j] = src[d];
          s += src[d] * src[d];
        }
      } else {
        for (int d = 0; d < dim; d++) dst[d * PANEL + j] = 0.0f;
      }
      sq_norms[p * PANEL + j] = s;
    }
  }
}

/*
 * acc[r][0..8) = Σ_d q[r·dim + d] · panel[d][0..8) for MR query rows, written to acc (MR × 8 floats).
 * Not inlined: the hot loop then has the registers to itself (14 or 15 live vectors of x86's 16),
 * where values live across it in the caller made V8 spill inside the loop (measured: 2× slower).
 */
static inline __attribute__((always_inline)) void tile_product(f32 *acc, const f32 *q, int dim, const f32 *panel,
                                                               const int MR) {
  v128_t a[TILE_ROWS][2];
  _Pragma("clang loop unroll(full)")
  for (int r = 0; r < MR; r++) a[r][0] = a[r][1] = wasm_f32x4_splat(0.0f);
  const f32 *b = panel;
  for (int d = 0; d < dim; d++, b += PANEL) {
    const v128_t b0 = ld(b), b1 = ld(b + 4);
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < MR; r++) {
      const v128_t s = wasm_v128_load32_splat(q + r * dim + d);
      a[r][0] = wasm_f32x4_add(a[r][0], wasm_f32x4_mul(s, b0));
      a[r][1] = wasm_f32x4_add(a[r][1], wasm_f32x4_mul(s, b1));
    }
  }
  _Pragma("clang loop unroll(full)")
  for (int r = 0; r < MR; r++) {
    st(acc + r * PANEL, a[r][0]);
    st(acc + r * PANEL + 4, a[r][1]);
  }
}

#define TILE_PRODUCT(MR)                                                                                 \
  static __attribute__((noinline)) void tile_product_##MR(f32 *acc, const f32 *q, int dim, const f32 *panel) { \
    tile_product(acc, q, dim, panel, MR);                                                                \
  }
TILE_PRODUCT(1)
TILE_PRODUCT(2)
TILE_PRODUCT(3)
TILE_PRODUCT(4)
TILE_PRODUCT(5)
TILE_PRODUCT(6)

static inline __attribute__((always_inline)) void tile_product_rows(f32 *acc, const f32 *q, int dim, const f32 *panel,
                                                                    const int MR) {
  switch (MR) {
    case 1: tile_product_1(acc, q, dim, panel); break;
    case 2: tile_product_2(acc, q, dim, panel); break;
    case 3: tile_product_3(acc, q, dim, panel); break;
    case 4: tile_product_4(acc, q, dim, panel); break;
    case 5: tile_product_5(acc, q, dim, panel); break;
    default: tile_product_6(acc, q, dim, panel); break;
  }
}

/* Replaces the root of the min-heap h[0..k) by v and restores the heap order. */
static void heap_replace_root(f32 *h, int k, f32 v) {
  int i = 0;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= k) break;
    if (c + 1 < k && h[c + 1] < h[c]) c++;
    if (!(h[c] < v)) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = v;
}

/* Sorts the min-heap h[0..k) descending in place (heapsort: the minimum goes last). */
static void heap_sort_descending(f32 *h, int k) {
  for (int end = k - 1; end > 0; end--) {
    const f32 v = h[end];
    h[end] = h[0];
    heap_replace_root(h, end, v);
  }
}

#define OFFER_LANE(vec, lane, bit)                                          \
  if (bits & (bit)) {                                                       \
    const f32 v = wasm_f32x4_extract_lane(vec, lane);                       \
    if (v > heap[0]) heap_replace_root(heap, k, v);                         \
  }

/*
 * The running top-k of MR query rows (rows i0.. of q) against the panels [pb, pe): scores of each
 * tile are compared with the row's current k-th best (its heap root) and only the lanes above it
 * are inserted.
 */
static inline __attribute__((always_inline)) void topk_tile(const f32 *q, const f32 *q_sq, int dim,
                                                            const f32 *packed, const f32 *sq_norms, int n, int l2,
                                                            int k, f32 *out, f32 *scratch, int i0, int pb, int pe,
                                                            const int MR) {
  const f32 *qr = q + i0 * dim, *qsq = q_sq + i0;
  f32 *acc = scratch;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  const v128_t neg_inf = wasm_f32x4_splat(-__builtin_inff());
  const v128_t lane = wasm_i32x4_make(0, 1, 2, 3);
  for (int p = pb; p < pe; p++) {
    tile_product_rows(acc, qr, dim, packed + p * dim * PANEL, MR);
    const int valid = n - p * PANEL;
    const v128_t keep0 = wasm_i32x4_gt(wasm_i32x4_splat(valid), lane);
    const v128_t keep1 = wasm_i32x4_gt(wasm_i32x4_splat(valid - 4), lane);
    const v128_t x0 = ld(sq_norms + p * PANEL), x1 = ld(sq_norms + p * PANEL + 4);
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < MR; r++) {
      v128_t s0 = ld(acc + r * PANEL), s1 = ld(acc + r * PANEL + 4);
      if (l2) {
        const v128_t qn = wasm_v128_load32_splat(qsq + r);
        // −max(‖q‖² + ‖x‖² − 2q·x, 0), faiss's expansion and clamp.
        s0 = wasm_f32x4_neg(wasm_f32x4_pmax(wasm_f32x4_sub(wasm_f32x4_add(qn, x0), wasm_f32x4_add(s0, s0)), zero));
        s1 = wasm_f32x4_neg(wasm_f32x4_pmax(wasm_f32x4_sub(wasm_f32x4_add(qn, x1), wasm_f32x4_add(s1, s1)), zero));
      }
      s0 = wasm_v128_bitselect(s0, neg_inf, keep0);
      s1 = wasm_v128_bitselect(s1, neg_inf, keep1);
      f32 *heap = out + (i0 + r) * k;
      const v128_t thr = wasm_v128_load32_splat(heap);
      const int bits = wasm_i32x4_bitmask(wasm_f32x4_gt(s0, thr)) | (wasm_i32x4_bitmask(wasm_f32x4_gt(s1, thr)) << 4);
      if (bits) {
        OFFER_LANE(s0, 0, 1)
        OFFER_LANE(s0, 1, 2)
        OFFER_LANE(s0, 2, 4)
        OFFER_LANE(s0, 3, 8)
        OFFER_LANE(s1, 0, 16)
        OFFER_LANE(s1, 1, 32)
        OFFER_LANE(s1, 2, 64)
        OFFER_LANE(s1, 3, 128)
      }
    }
  }
}

/*
 * out[i, 0..k) = the k largest scores of query row i against the n bank rows, sorted descending, for
 * rows i in [row_begin, row_end) of the row-major [·, dim] queries q. The score is q·x (l2 = 0) or
 * −max(‖q‖² + ‖x‖² − 2q·x, 0) (l2 = 1). packed/sq_norms come from neighbour_pack. The bank is
 * walked in blocks of block_panels panels (sized to stay in L2 while every query tile meets it).
 * q_sq: one float per query row, where the rows' squared norms are written once (l2) before the
 * walk; recomputed per tile and block, their serial sums had cost knn a fifth of its time.
 * scratch: SCRATCH_FLOATS floats (16-byte aligned) of this call's own.
 */
EXPORT(neighbour_topk)
void neighbour_topk(const f32 *q, int dim, const f32 *packed, const f32 *sq_norms, int n, int l2, int k, f32 *out,
                    int row_begin, int row_end, int block_panels, f32 *q_sq, f32 *scratch) {
  const int panels = (n + PANEL - 1) / PANEL;
  for (int i = row_begin * k; i < row_end * k; i++) out[i] = -__builtin_inff();
  for (int i = row_begin; i < row_end; i++) {
    f32 s = 0.0f;
    if (l2)
      for (int d = 0; d < dim; d++) s += q[i * dim + d] * q[i * dim + d];
    q_sq[i] = s;
  }
  for (int pb = 0; pb < panels; pb += block_panels) {
    const int pe = pb + block_panels < panels ? pb + block_panels : panels;
    int i0 = row_begin;
    for (; i0 + TILE_ROWS <= row_end; i0 += TILE_ROWS) topk_tile(q, q_sq, dim, packed, sq_norms, n, l2, k, out, scratch, i0, pb, pe, TILE_ROWS);
    switch (row_end - i0) {
      case 5: topk_tile(q, q_sq, dim, packed, sq_norms, n, l2, k, out, scratch, i0, pb, pe, 5); break;
      case 4: topk_tile(q, q_sq, dim, packed, sq_norms, n, l2, k, out, scratch, i0, pb, pe, 4); break;
      case 3: topk_tile(q, q_sq, dim, packed, sq_norms, n, l2, k, out, scratch, i0, pb, pe, 3); break;
      case 2: topk_tile(q, q_sq, dim, packed, sq_norms, n, l2, k, out, scratch, i0, pb, pe, 2); break;
      case 1: topk_tile(q, q_sq, dim, packed, sq_norms, n, l2, k, out, scratch, i0, pb, pe, 1); break;
      default: break;
    }
  }
  for (int i = row_begin; i < row_end; i++) heap_sort_descending(out + i * k, k);
}

/* Σ of the four lanes of the f32 vector v, in float64, in a fixed order. */
static inline f64 lane_sum(v128_t v) {
  const v128_t lo = wasm_f64x2_promote_low_f32x4(v);
  const v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3));
  const v128_t s = wasm_f64x2_add(lo, hi);
  return wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);
}

/* w^e for an integer e ≥ 1 (square and multiply). */
static inline v128_t pow_int(v128_t w, int e) {
  v128_t r = w;
  e--;
  v128_t base = w;
  while (e > 0) {
    if (e & 1) r = wasm_f32x4_mul(r, base);
    e >>= 1;
    if (e > 0) base = wasm_f32x4_mul(base, base);
  }
  return r;
}

/* The relation sums of MR query rows (rows i0..) against the panels [pb, pe). */
static inline __attribute__((always_inline)) void relation_tile(const f32 *qf, int dim, const f32 *qp, int classes,
                                                                const f32 *bank_f, const f32 *bank_p, f32 thres,
                                                                int power, f64 *out, f32 *acc, int i0, int pb,
                                                                int pe, const int MR) {
  const f32 *qr = qf + i0 * dim;
  const f32 *pr = qp + i0 * classes;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  const v128_t th = wasm_f32x4_splat(thres);
  f64 sums[TILE_ROWS];
  _Pragma("clang loop unroll(full)")
  for (int r = 0; r < MR; r++) sums[r] = 0.0;
  for (int p = pb; p < pe; p++) {
    tile_product_rows(acc, qr, dim, bank_f + p * dim * PANEL, MR);
    const f32 *bp = bank_p + p * classes * PANEL;
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < MR; r++) {
      v128_t s0 = zero, s1 = zero;
      for (int c = 0; c < classes; c++) {
        const v128_t a = wasm_v128_load32_splat(pr + r * classes + c);
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(a, ld(bp + c * PANEL)));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(a, ld(bp + c * PANEL + 4)));
      }
      const v128_t w0 = wasm_f32x4_mul(wasm_f32x4_pmax(ld(acc + r * PANEL), zero), s0);
      const v128_t w1 = wasm_f32x4_mul(wasm_f32x4_pmax(ld(acc + r * PANEL + 4), zero), s1);
      const v128_t k0 = wasm_f32x4_gt(w0, th), k1 = wasm_f32x4_gt(w1, th);
      if (wasm_v128_any_true(wasm_v128_or(k0, k1))) {
        const v128_t e0 = wasm_v128_and(power == 1 ? w0 : pow_int(w0, power), k0);
        const v128_t e1 = wasm_v128_and(power == 1 ? w1 : pow_int(w1, power), k1);
        sums[r] += lane_sum(e0) + lane_sum(e1);
      }
    }
  }
  _Pragma("clang loop unroll(full)")
  for (int r = 0; r < MR; r++) out[i0 + r] += sums[r];
}

/*
 * out[i] = Σ over the n bank rows t of w^power for the edges w = max(ẑ_i·ẑ_t, 0) · (p_i·p_t) > thres,
 * for rows i in [row_begin, row_end): qf [·, dim] normalised features, qp [·, classes] probabilities
 * (row-major), bank_f / bank_p their packed bank counterparts (neighbour_pack; padding rows have
 * zero probabilities, so weight 0), power an integer ≥ 1. Sums are float64. scratch as neighbour_topk.
 */
EXPORT(relation_sum)
void relation_sum(const f32 *qf, int dim, const f32 *qp, int classes, const f32 *bank_f, const f32 *bank_p, int n,
                  f32 thres, int power, f64 *out, int row_begin, int row_end, int block_panels, f32 *scratch) {
  const int panels = (n + PANEL - 1) / PANEL;
  for (int i = row_begin; i < row_end; i++) out[i] = 0.0;
  for (int pb = 0; pb < panels; pb += block_panels) {
    const int pe = pb + block_panels < panels ? pb + block_panels : panels;
    int i0 = row_begin;
    for (; i0 + TILE_ROWS <= row_end; i0 += TILE_ROWS)
      relation_tile(qf, dim, qp, classes, bank_f, bank_p, thres, power, out, scratch, i0, pb, pe, TILE_ROWS);
    switch (row_end - i0) {
      case 5: relation_tile(qf, dim, qp, classes, bank_f, bank_p, thres, power, out, scratch, i0, pb, pe, 5); break;
      case 4: relation_tile(qf, dim, qp, classes, bank_f, bank_p, thres, power, out, scratch, i0, pb, pe, 4); break;
      case 3: relation_tile(qf, dim, qp, classes, bank_f, bank_p, thres, power, out, scratch, i0, pb, pe, 3); break;
      case 2: relation_tile(qf, dim, qp, classes, bank_f, bank_p, thres, power, out, scratch, i0, pb, pe, 2); break;
      case 1: relation_tile(qf, dim, qp, classes, bank_f, bank_p, thres, power, out, scratch, i0, pb, pe, 1); break;
      default: break;
    }
  }
}
