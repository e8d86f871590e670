/*
 * oodkit's SIMD kernels for the tfjs wasm backend, one source file per kernel family, linked into one
 * module. They run on tfjs-backend-wasm's own linear memory (imported), so tensors are passed as heap
 * offsets and nothing is copied. Built by `npm run build:kernels` (tools/wasm-kernels/build.mjs) into
 * libs/compute/assets/, one binary per memory kind (plain, shared).
 *
 * Rules that keep the shared memory safe: no globals, no static data, no address-taken locals (so
 * the shadow stack, which would live at a fixed address inside tfjs's heap, is never touched). The
 * build script rejects a binary that has a data segment or uses the stack pointer. Arrays of vectors
 * are fine when every index is a constant after full unrolling (they become SSA values).
 *
 * Layout: activations are NHWC; the JS side splits work into disjoint output ranges per thread.
 */
#ifndef OODKIT_KERNELS_H
#define OODKIT_KERNELS_H

#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef float f32;

static inline v128_t ld(const f32 *p) { return wasm_v128_load(p); }
static inline void st(f32 *p, v128_t v) { wasm_v128_store(p, v); }

/* The first `count` (1..3) floats at p in the low lanes, zeros above: no read past p[count − 1]. */
static inline v128_t load_partial(const f32 *p, int count) {
  if (count == 1) return wasm_v128_load32_zero(p);
  v128_t v = wasm_v128_load64_zero(p);
  return count == 2 ? v : wasm_v128_load32_lane(p + 2, v, 2);
}

/* Stores the low `count` (1..3) lanes of v. */
static inline void store_lanes(f32 *p, v128_t v, int count) {
  if (count == 1) {
    wasm_v128_store32_lane(p, v, 0);
    return;
  }
  wasm_v128_store64_lane(p, v, 0);
  if (count == 3) wasm_v128_store32_lane(p + 2, v, 2);
}

/* NV vectors from p (the last one partial with TAIL lanes when TAIL != 0), into v[0..NV). */
static inline __attribute__((always_inline)) void load_vectors(v128_t v[2], const f32 *p, const int NV, const int TAIL) {
  _Pragma("clang loop unroll(full)")
  for (int i = 0; i < NV; i++) v[i] = TAIL && i == NV - 1 ? load_partial(p + 4 * i, TAIL) : ld(p + 4 * i);
}

/* The inverse of load_vectors. */
static inline __attribute__((always_inline)) void store_vectors(f32 *p, const v128_t v[2], const int NV, const int TAIL) {
  _Pragma("clang loop unroll(full)")
  for (int i = 0; i < NV; i++) {
    if (TAIL && i == NV - 1) store_lanes(p + 4 * i, v[i], TAIL);
    else st(p + 4 * i, v[i]);
  }
}

/* acc += splat(s) · b, for NV vectors: one row of a rank-1 update. */
static inline __attribute__((always_inline)) void axpy_row(v128_t acc[2], v128_t s, const v128_t b[2], const int NV) {
  _Pragma("clang loop unroll(full)")
  for (int i = 0; i < NV; i++) acc[i] = wasm_f32x4_add(acc[i], wasm_f32x4_mul(s, b[i]));
}

/*
 * Floats between the transform planes of a Winograd chunk buffer ([α²][plane]: chunk tiles × c
 * channels, plus one cache line). Without the extra line the planes sit a multiple of 4 KB apart, so
 * the α² streams a transform writes or reads all map to the same few L1 sets.
 */
#define PLANE(chunk, c) ((chunk) * (c) + 16)

/*
 * One output row of a 2×2 Winograd tile: o0 and o1 (+ bias, then ReLU when relu != 0) to yo and the
 * pixel after it, the second only inside the image.
 */
static inline __attribute__((always_inline)) void store_pair(f32 *yo, int co_n, v128_t o0, v128_t o1, v128_t bv, int relu,
                                                             int second) {
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  o0 = wasm_f32x4_add(o0, bv), o1 = wasm_f32x4_add(o1, bv);
  if (relu) o0 = wasm_f32x4_pmax(o0, zero4), o1 = wasm_f32x4_pmax(o1, zero4);
  st(yo, o0);
  if (second) st(yo + co_n, o1);
}

/*
 * The 2×2 output-gradient tile whose top-left vector is at p (a row is out_w pixels of co_n
 * channels), zeros for the row and column past the image edge.
 */
static inline __attribute__((always_inline)) void load_tile2(v128_t g[2][2], const f32 *p, int out_w, int co_n, int has_r1,
                                                             int has_c1) {
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  g[0][0] = ld(p), g[0][1] = has_c1 ? ld(p + co_n) : zero4;
  g[1][0] = has_r1 ? ld(p + out_w * co_n) : zero4;
  g[1][1] = has_r1 && has_c1 ? ld(p + (out_w + 1) * co_n) : zero4;
}

/* matmul.c: c = a·b and c += a·b over rows [row_begin, row_end) (see there). */
void matmul(const f32 *a, const f32 *b, f32 *c, int n, int k_n, int a_rs, int a_cs, int row_begin, int row_end);
void matmul_acc(const f32 *a, const f32 *b, f32 *c, int n, int k_n, int a_rs, int a_cs, int row_begin, int row_end);

#endif
