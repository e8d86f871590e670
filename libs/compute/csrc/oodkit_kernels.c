/*
 * oodkit's SIMD kernels for the tfjs wasm backend. They run on tfjs-backend-wasm's own linear
 * memory (imported), so tensors are passed as heap offsets and nothing is copied. Built by
 * `npm run build:kernels` (tools/wasm-kernels/build.mjs) into libs/compute/assets/, one binary
 * per memory kind (plain, shared).
 *
 * Rules that keep the shared memory safe: no globals, no static data, no address-taken locals (so
 * the shadow stack, which would live at a fixed address inside tfjs's heap, is never touched). The
 * build script rejects a binary that has a data segment or uses the stack pointer.
 *
 * Layout: an activation is NHWC flattened to n rows of c channels. The loops walk the flat array in
 * chunks of L = lcm(c, 4) floats, so channel counts like 6 vectorise as well as 64: per-channel
 * arrays are first expanded to L entries (entry j belongs to channel j mod c). Column sums add
 * BLOCK chunks in float and the block totals in double, so a 10^6-row reduction keeps ~1e-7
 * relative accuracy without double-precision arithmetic on every element.
 *
 * scratch: every kernel taking one needs 48·L bytes, 16-byte aligned.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define BLOCK 64

typedef float f32;

static inline v128_t ld(const f32 *p) { return wasm_v128_load(p); }
static inline void st(f32 *p, v128_t v) { wasm_v128_store(p, v); }

static inline int period(int c) { return (c & 3) == 0 ? c : (c & 1) == 0 ? 2 * c : 4 * c; }

static void expand(const f32 *src, int c, int L, f32 *dst) {
  for (int j = 0; j < L; j++) dst[j] = src[j % c];
}

static void zero_acc(f32 *blk, double *tot, int L) {
  for (int j = 0; j < L; j++) {
    blk[j] = 0.0f;
    tot[j] = 0.0;
  }
}

static void flush(f32 *blk, double *tot, int L) {
  for (int j = 0; j < L; j++) {
    tot[j] += (double)blk[j];
    blk[j] = 0.0f;
  }
}

/* out[ch] = scale · Σ_{j ≡ ch mod c} tot[j] (+ the scalar tail's tail[ch]). */
static void fold(const double *tot, const double *tail, int c, int L, f32 scale, f32 *out) {
  for (int ch = 0; ch < c; ch++) {
    double s = tail[ch];
    for (int j = ch; j < L; j += c) s += tot[j];
    out[ch] = (f32)(s * (double)scale);
  }
}

/* out[ch] = scale · Σ_r x[r, ch] */
EXPORT(col_sum)
void col_sum(const f32 *x, int n, int c, f32 scale, f32 *out, f32 *scratch) {
  const int L = period(c);
  f32 *blk = scratch;
  double *tot = (double *)(scratch + L);
  double *tail = tot + L;
  const long total = (long)n * c, chunks = total / L;
  zero_acc(blk, tot, L);
  for (long q0 = 0; q0 < chunks; q0 += BLOCK) {
    const long q1 = q0 + BLOCK < chunks ? q0 + BLOCK : chunks;
    for (long q = q0; q < q1; q++) {
      const f32 *p = x + q * L;
      for (int j = 0; j < L; j += 4) st(blk + j, wasm_f32x4_add(ld(blk + j), ld(p + j)));
    }
    flush(blk, tot, L);
  }
  for (int ch = 0; ch < c; ch++) tail[ch] = 0.0;
  for (long i = chunks * L; i < total; i++) tail[i % c] += x[i];
  fold(tot, tail, c, L, scale, out);
}

/* out[ch] = scale · Σ_r (x[r, ch] − mean[ch])² */
EXPORT(col_sqdev)
void col_sqdev(const f32 *x, const f32 *mean, int n, int c, f32 scale, f32 *out, f32 *scratch) {
  const int L = period(c);
  f32 *blk = scratch;
  double *tot = (double *)(scratch + L);
  double *tail = tot + L;
  f32 *m = (f32 *)(tail + L);
  const long total = (long)n * c, chunks = total / L;
  expand(mean, c, L, m);
  zero_acc(blk, tot, L);
  for (long q0 = 0; q0 < chunks; q0 += BLOCK) {
    const long q1 = q0 + BLOCK < chunks ? q0 + BLOCK : chunks;
    for (long q = q0; q < q1; q++) {
      const f32 *p = x + q * L;
      for (int j = 0; j < L; j += 4) {
        v128_t d = wasm_f32x4_sub(ld(p + j), ld(m + j));
        st(blk + j, wasm_f32x4_add(ld(blk + j), wasm_f32x4_mul(d, d)));
      }
    }
    flush(blk, tot, L);
  }
  for (int ch = 0; ch < c; ch++) tail[ch] = 0.0;
  for (long i = chunks * L; i < total; i++) {
    f32 d = x[i] - mean[i % c];
    tail[i % c] += d * d;
  }
  fold(tot, tail, c, L, scale, out);
}

/*
 * The two reductions of batch-norm's backward pass, with an optional ReLU mask applied to dy first
 * (mask != 0: g = mask > 0 ? dy : 0, mask being the fused layer's output y):
 * sum_g[ch] = Σ_r g,  sum_gxc[ch] = Σ_r g · (x − mean).
 */
EXPORT(bn_backward_sums)
void bn_backward_sums(const f32 *dy, const f32 *x, const f32 *mean, const f32 *mask, int n, int c,
                      f32 *sum_g, f32 *sum_gxc, f32 *scratch) {
  const int L = period(c);
  f32 *blk = scratch, *blk2 = scratch + L;
  double *tot = (double *)(scratch + 2 * L), *tot2 = tot + L, *tail = tot2 + L, *tail2 = tail + L;
  f32 *m = (f32 *)(tail2 + L);
  const long total = (long)n * c, chunks = total / L;
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  expand(mean, c, L, m);
  zero_acc(blk, tot, L);
  zero_acc(blk2, tot2, L);
  for (long q0 = 0; q0 < chunks; q0 += BLOCK) {
    const long q1 = q0 + BLOCK < chunks ? q0 + BLOCK : chunks;
    for (long q = q0; q < q1; q++) {
      const long o = q * L;
      for (int j = 0; j < L; j += 4) {
        v128_t g = ld(dy + o + j);
        if (mask) g = wasm_v128_and(g, wasm_f32x4_gt(ld(mask + o + j), zero4));
        v128_t d = wasm_f32x4_sub(ld(x + o + j), ld(m + j));
        st(blk + j, wasm_f32x4_add(ld(blk + j), g));
        st(blk2 + j, wasm_f32x4_add(ld(blk2 + j), wasm_f32x4_mul(g, d)));
      }
    }
    flush(blk, tot, L);
    flush(blk2, tot2, L);
  }
  for (int ch = 0; ch < c; ch++) tail[ch] = tail2[ch] = 0.0;
  for (long i = chunks * L; i < total; i++) {
    f32 g = dy[i];
    if (mask && !(mask[i] > 0.0f)) g = 0.0f;
    tail[i % c] += g;
    tail2[i % c] += g * (x[i] - mean[i % c]);
  }
  fold(tot, tail, c, L, 1.0f, sum_g);
  fold(tot2, tail2, c, L, 1.0f, sum_gxc);
}

/* y = x · scale[ch] + shift[ch] (scale 0 pointer: 1), then max(·, 0) when relu != 0. */
EXPORT(channel_affine)
void channel_affine(const f32 *x, int n, int c, const f32 *scale, const f32 *shift, int relu, f32 *y, f32 *scratch) {
  const int L = period(c);
  f32 *sc = scratch, *sh = scratch + L;
  const long total = (long)n * c, chunks = total / L;
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  if (scale) expand(scale, c, L, sc);
  else for (int j = 0; j < L; j++) sc[j] = 1.0f;
  expand(shift, c, L, sh);
  for (long q = 0; q < chunks; q++) {
    const long o = q * L;
    for (int j = 0; j < L; j += 4) {
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(ld(x + o + j), ld(sc + j)), ld(sh + j));
      if (relu) v = wasm_f32x4_pmax(v, zero4);
      st(y + o + j, v);
    }
  }
  for (long i = chunks * L; i < total; i++) {
    f32 v = x[i] * sc[i % c] + sh[i % c];
    y[i] = relu && !(v > 0.0f) ? 0.0f : v;
  }
}

/*
 * Batch-norm's input gradient: dx = a[ch] · g + b[ch] · (x − mean[ch]) + k[ch], g being dy masked by
 * the fused ReLU as in bn_backward_sums. The per-channel coefficients are formed by the caller.
 */
EXPORT(bn_backward_dx)
void bn_backward_dx(const f32 *dy, const f32 *x, const f32 *mean, const f32 *mask, int n, int c,
                    const f32 *a, const f32 *b, const f32 *k, f32 *dx, f32 *scratch) {
  const int L = period(c);
  f32 *m = scratch, *ea = scratch + L, *eb = scratch + 2 * L, *ek = scratch + 3 * L;
  const long total = (long)n * c, chunks = total / L;
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  expand(mean, c, L, m);
  expand(a, c, L, ea);
  expand(b, c, L, eb);
  expand(k, c, L, ek);
  for (long q = 0; q < chunks; q++) {
    const long o = q * L;
    for (int j = 0; j < L; j += 4) {
      v128_t g = ld(dy + o + j);
      if (mask) g = wasm_v128_and(g, wasm_f32x4_gt(ld(mask + o + j), zero4));
      v128_t d = wasm_f32x4_sub(ld(x + o + j), ld(m + j));
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(ld(ea + j), g), wasm_f32x4_mul(ld(eb + j), d));
      st(dx + o + j, wasm_f32x4_add(v, ld(ek + j)));
    }
  }
  for (long i = chunks * L; i < total; i++) {
    const int ch = i % c;
    f32 g = dy[i];
    if (mask && !(mask[i] > 0.0f)) g = 0.0f;
    dx[i] = a[ch] * g + b[ch] * (x[i] - mean[ch]) + k[ch];
  }
}

/* g = y > 0 ? dy : 0 written to dx, and its column sums (a bias gradient) to sum_g. */
EXPORT(relu_backward_col_sum)
void relu_backward_col_sum(const f32 *dy, const f32 *y, int n, int c, f32 *dx, f32 *sum_g, f32 *scratch) {
  const int L = period(c);
  f32 *blk = scratch;
  double *tot = (double *)(scratch + L);
  double *tail = tot + L;
  const long total = (long)n * c, chunks = total / L;
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  zero_acc(blk, tot, L);
  for (long q0 = 0; q0 < chunks; q0 += BLOCK) {
    const long q1 = q0 + BLOCK < chunks ? q0 + BLOCK : chunks;
    for (long q = q0; q < q1; q++) {
      const long o = q * L;
      for (int j = 0; j < L; j += 4) {
        v128_t g = wasm_v128_and(ld(dy + o + j), wasm_f32x4_gt(ld(y + o + j), zero4));
        st(dx + o + j, g);
        st(blk + j, wasm_f32x4_add(ld(blk + j), g));
      }
    }
    flush(blk, tot, L);
  }
  for (int ch = 0; ch < c; ch++) tail[ch] = 0.0;
  for (long i = chunks * L; i < total; i++) {
    f32 g = y[i] > 0.0f ? dy[i] : 0.0f;
    dx[i] = g;
    tail[i % c] += g;
  }
  fold(tot, tail, c, L, 1.0f, sum_g);
}

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

/*
 * Zero-pads NHWC x [batch, in_h, in_w, c] into y [batch, in_h + top + bottom, in_w + left + right, c]
 * with one bulk copy per row and bulk fills for the borders (tfjs's generic Pad kernel moves
 * one element at a time when c is small: 1.2 ms for a LeNet input batch).
 */
EXPORT(pad_nhwc)
void pad_nhwc(const f32 *x, f32 *y, int batch, int in_h, int in_w, int c, int top, int bottom, int left, int right) {
  const int out_w = in_w + left + right, out_h = in_h + top + bottom;
  const unsigned long row = (unsigned long)out_w * c * sizeof(f32);
  for (int b = 0; b < batch; b++) {
    f32 *yb = y + (long)b * out_h * out_w * c;
    __builtin_memset(yb, 0, top * row);
    for (int r = 0; r < in_h; r++) {
      f32 *yr = yb + (long)(top + r) * out_w * c;
      __builtin_memset(yr, 0, (unsigned long)left * c * sizeof(f32));
      __builtin_memcpy(yr + left * c, x + ((long)b * in_h + r) * in_w * c, (unsigned long)in_w * c * sizeof(f32));
      __builtin_memset(yr + (left + in_w) * c, 0, (unsigned long)right * c * sizeof(f32));
    }
    __builtin_memset(yb + (long)(top + in_h) * out_w * c, 0, bottom * row);
  }
}

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
static void matmul_acc(const f32 *a, const f32 *b, f32 *c, int n, int k_n, int a_rs, int a_cs, int row_begin, int row_end) {
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

/*
 * Floats between the transform planes of a Winograd chunk buffer ([α²][plane]: chunk tiles × c
 * channels, plus one cache line). Without the extra line the planes sit a multiple of 4 KB apart, so
 * the α² streams a transform writes or reads all map to the same few L1 sets.
 */
#define PLANE(chunk, c) ((chunk) * (c) + 16)

/*
 * Winograd F(2×2, 3×3) for 3×3, stride-1, dilation-1 convolutions: every 2×2 output tile costs 16
 * products per (input, output) channel pair instead of 36. U = G·g·Gᵀ per channel pair (the filter
 * transform) is made once per call by winograd_filter; winograd_conv transforms input tiles
 * (V = Bᵀ·d·B), multiplies V[ξ]·U[ξ] for the 16 positions ξ, and transforms back (Y = Aᵀ·M·A), a
 * chunk of tiles at a time so V and M stay in cache. Rounding differs from the direct convolution
 * by ~1e-6 relative (tests hold it to the cpu backend).
 */

/*
 * U[ξ][ci][co] from w[3][3][ci][co] for the filter-plane entries e in [e_begin, e_end) (multiples of
 * 4; threads take disjoint ranges): G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
 */
EXPORT(winograd_filter)
void winograd_filter(const f32 *w, f32 *u, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  const v128_t half = wasm_f32x4_splat(0.5f);
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t t[4][3];
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 3; j++) {
      const v128_t g0 = ld(w + j * plane + e), g1 = ld(w + (3 + j) * plane + e), g2 = ld(w + (6 + j) * plane + e);
      const v128_t s = wasm_f32x4_add(g0, g2);
      t[0][j] = g0;
      t[1][j] = wasm_f32x4_mul(half, wasm_f32x4_add(s, g1));
      t[2][j] = wasm_f32x4_mul(half, wasm_f32x4_sub(s, g1));
      t[3][j] = g2;
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 4; i++) {
      const v128_t s = wasm_f32x4_add(t[i][0], t[i][2]);
      st(u + (i * 4 + 0) * plane + e, t[i][0]);
      st(u + (i * 4 + 1) * plane + e, wasm_f32x4_mul(half, wasm_f32x4_add(s, t[i][1])));
      st(u + (i * 4 + 2) * plane + e, wasm_f32x4_mul(half, wasm_f32x4_sub(s, t[i][1])));
      st(u + (i * 4 + 3) * plane + e, t[i][2]);
    }
  }
}

/*
 * V[ξ][q][ci] = (Bᵀ·d·B)[ξ] for the nt tiles t0.. (d the tile's 4×4 input patch), with
 * Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], four input channels at a time.
 */
static void winograd_input(const f32 *x, f32 *v, int in_h, int in_w, int ci_n, int tiles_w, int per_image, int t0,
                           int nt, int vs) {
  for (int q = 0; q < nt; q++) {
    const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
    const f32 *p = x + ((b * in_h + 2 * ty) * in_w + 2 * tx) * ci_n;
    for (int c = 0; c < ci_n; c += 4) {
      v128_t d[4][4], s[4][4];
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 4; i++)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 4; j++) d[i][j] = ld(p + (i * in_w + j) * ci_n + c);
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 4; j++) {
        s[0][j] = wasm_f32x4_sub(d[0][j], d[2][j]);
        s[1][j] = wasm_f32x4_add(d[1][j], d[2][j]);
        s[2][j] = wasm_f32x4_sub(d[2][j], d[1][j]);
        s[3][j] = wasm_f32x4_sub(d[1][j], d[3][j]);
      }
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 4; i++) {
        f32 *o = v + i * 4 * vs + q * ci_n + c;
        const int step = vs;
        st(o, wasm_f32x4_sub(s[i][0], s[i][2]));
        st(o + step, wasm_f32x4_add(s[i][1], s[i][2]));
        st(o + 2 * step, wasm_f32x4_sub(s[i][2], s[i][1]));
        st(o + 3 * step, wasm_f32x4_sub(s[i][1], s[i][3]));
      }
    }
  }
}

/*
 * Output tiles [tile_begin, tile_end) of y = conv3×3(x) (+ bias, ReLU): x is padded so every tile's
 * 4×4 patch is in bounds ([batch, 2·tiles_h + 2, 2·tiles_w + 2, ci_n] at least), y is
 * [batch, out_h, out_w, co_n] (tiles past an odd edge are computed and not stored). ci_n and co_n
 * multiples of 4. scratch: 16·(PLANE(chunk, ci_n) + PLANE(chunk, co_n)) floats.
 */
EXPORT(winograd_conv)
void winograd_conv(const f32 *x, const f32 *u, const f32 *bias, f32 *y, int in_h, int in_w, int ci_n, int out_h,
                   int out_w, int co_n, int relu, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 1) / 2, tiles_h = (out_h + 1) / 2, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), ms = PLANE(chunk, co_n);
  f32 *v = scratch;           /* [16][vs]: V[ξ][q][ci] */
  f32 *m = scratch + 16 * vs; /* [16][ms]: M[ξ][q][co] */
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs);
    /* M[ξ] = V[ξ]·U[ξ]: 16 products [nt × ci_n]·[ci_n × co_n]. */
    for (int xi = 0; xi < 16; xi++)
      matmul(v + xi * vs, u + xi * ci_n * co_n, m + xi * ms, co_n, ci_n, ci_n, 1, 0, nt);
    /* Y = Aᵀ·M·A with Aᵀ = [1 1 1 0; 0 1 −1 −1], + bias, ReLU; store the in-bounds outputs. */
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 2 * ty, ox = 2 * tx;
      for (int c = 0; c < co_n; c += 4) {
        v128_t e[4][4], f[2][4];
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 4; i++)
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 4; j++) e[i][j] = ld(m + (i * 4 + j) * ms + q * co_n + c);
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 4; j++) {
          f[0][j] = wasm_f32x4_add(wasm_f32x4_add(e[0][j], e[1][j]), e[2][j]);
          f[1][j] = wasm_f32x4_sub(wasm_f32x4_sub(e[1][j], e[2][j]), e[3][j]);
        }
        const v128_t bv = bias ? ld(bias + c) : zero4;
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 2; i++) {
          if (oy + i >= out_h) continue;
          v128_t o0 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(f[i][0], f[i][1]), f[i][2]), bv);
          v128_t o1 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(f[i][1], f[i][2]), f[i][3]), bv);
          if (relu) o0 = wasm_f32x4_pmax(o0, zero4), o1 = wasm_f32x4_pmax(o1, zero4);
          f32 *yo = y + ((b * out_h + oy + i) * out_w + ox) * co_n + c;
          st(yo, o0);
          if (ox + 1 < out_w) st(yo + co_n, o1);
        }
      }
    }
  }
}

/*
 * Winograd F(4×4, 3×3): every 4×4 output tile costs 36 products per channel pair instead of 144
 * (F(2×2, 3×3): 64), at the price of transforms with larger coefficients (points 0, ±1, ±2, ∞), so
 * its rounding error is ~10× F(2×2)'s (still ~1e-5 relative). The forward route takes it where
 * it measured faster (conv2d.ts).
 */

/* U[ξ][ci][co] = (G·g·Gᵀ)[ξ], G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1], entries e in [e_begin, e_end). */
#define G6(g0, g1, g2, o)                                                                        \
  do {                                                                                           \
    const v128_t s_ = wasm_f32x4_add(g0, g2), h_ = wasm_f32x4_add(wasm_f32x4_mul(g0, q4), g2);    \
    const v128_t a_ = wasm_f32x4_mul(h_, q4), k_ = wasm_f32x4_mul(g1, e8);                         \
    o[0] = wasm_f32x4_mul(g0, q4);                                                               \
    o[1] = wasm_f32x4_mul(wasm_f32x4_add(s_, g1), m6);                                           \
    o[2] = wasm_f32x4_mul(wasm_f32x4_sub(s_, g1), m6);                                           \
    o[3] = wasm_f32x4_mul(wasm_f32x4_add(a_, k_), p6);  /* (g0/16 + g1/8 + g2/4)·⅔ */             \
    o[4] = wasm_f32x4_mul(wasm_f32x4_sub(a_, k_), p6);                                           \
    o[5] = g2;                                                                                   \
  } while (0)

EXPORT(winograd4_filter)
void winograd4_filter(const f32 *w, f32 *u, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  const v128_t q4 = wasm_f32x4_splat(0.25f), e8 = wasm_f32x4_splat(0.125f);
  const v128_t m6 = wasm_f32x4_splat(-1.0f / 6.0f), p6 = wasm_f32x4_splat(4.0f / 6.0f);
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t t[3][6];
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 3; j++) {
      const v128_t g0 = ld(w + j * plane + e), g1 = ld(w + (3 + j) * plane + e), g2 = ld(w + (6 + j) * plane + e);
      v128_t o[6];
      G6(g0, g1, g2, o);
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 6; i++) t[j][i] = o[i];
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 6; i++) {
      v128_t o[6];
      G6(t[0][i], t[1][i], t[2][i], o);
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 6; j++) st(u + (i * 6 + j) * plane + e, o[j]);
    }
  }
}

/* Bᵀ·d for one 6-vector: Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]. */
#define BT6(d, o)                                                                                  \
  do {                                                                                             \
    const v128_t a_ = wasm_f32x4_add(d[3], d[4]), b_ = wasm_f32x4_add(d[1], d[2]);                  \
    const v128_t c_ = wasm_f32x4_sub(d[4], d[3]), e_ = wasm_f32x4_sub(d[1], d[2]);                  \
    const v128_t g_ = wasm_f32x4_sub(d[4], d[2]), h_ = wasm_f32x4_sub(d[3], d[1]);                  \
    const v128_t h2_ = wasm_f32x4_add(h_, h_);                                                     \
    o[0] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(f4, d[0]), wasm_f32x4_mul(f5, d[2])), d[4]); \
    o[1] = wasm_f32x4_sub(a_, wasm_f32x4_mul(f4, b_));                                             \
    o[2] = wasm_f32x4_add(c_, wasm_f32x4_mul(f4, e_));                                             \
    o[3] = wasm_f32x4_add(g_, h2_);                                                                \
    o[4] = wasm_f32x4_sub(g_, h2_);                                                                \
    o[5] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(f4, d[1]), wasm_f32x4_mul(f5, d[3])), d[5]); \
  } while (0)

/*
 * V[ξ][q][ci] = (Bᵀ·d·B)[ξ] for the nt tiles t0.., d the tile's 6×6 input patch, four channels at a
 * time: columns first into tmp (36 vectors of scratch), then rows. Keeping all 36 vectors in
 * registers instead made V8 spill most of them (x64 has 16 vector registers).
 */
static void winograd4_input(const f32 *x, f32 *v, int in_h, int in_w, int ci_n, int tiles_w, int per_image, int t0,
                            int nt, int vs, f32 *tmp) {
  const v128_t f4 = wasm_f32x4_splat(4.0f), f5 = wasm_f32x4_splat(5.0f);
  for (int q = 0; q < nt; q++) {
    const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
    const f32 *p = x + ((b * in_h + 4 * ty) * in_w + 4 * tx) * ci_n;
    for (int c = 0; c < ci_n; c += 4) {
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 6; j++) {
        v128_t d[6], o[6];
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 6; i++) d[i] = ld(p + (i * in_w + j) * ci_n + c);
        BT6(d, o);
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 6; i++) st(tmp + (i * 6 + j) * 4, o[i]);
      }
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 6; i++) {
        v128_t d[6], o[6];
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 6; j++) d[j] = ld(tmp + (i * 6 + j) * 4);
        BT6(d, o);
        f32 *out = v + i * 6 * vs + q * ci_n + c;
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 6; j++) st(out + j * vs, o[j]);
      }
    }
  }
}

/* Aᵀ·m for one 6-vector: Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]. */
#define AT6(m, o)                                                                                \
  do {                                                                                           \
    const v128_t p_ = wasm_f32x4_add(m[1], m[2]), q_ = wasm_f32x4_sub(m[1], m[2]);                \
    const v128_t r_ = wasm_f32x4_add(m[3], m[4]), s_ = wasm_f32x4_sub(m[3], m[4]);                \
    o[0] = wasm_f32x4_add(wasm_f32x4_add(m[0], p_), r_);                                         \
    o[1] = wasm_f32x4_add(q_, wasm_f32x4_add(s_, s_));                                           \
    o[2] = wasm_f32x4_add(p_, wasm_f32x4_mul(f4, r_));                                           \
    o[3] = wasm_f32x4_add(wasm_f32x4_add(q_, wasm_f32x4_mul(f8, s_)), m[5]);                     \
  } while (0)

/* As winograd_conv with 4×4 output tiles: x padded to [batch, 4·tiles_h + 2, 4·tiles_w + 2, ci_n] at least; scratch 36·(PLANE(chunk, ci_n) + PLANE(chunk, co_n) + 4) floats. */
EXPORT(winograd4_conv)
void winograd4_conv(const f32 *x, const f32 *u, const f32 *bias, f32 *y, int in_h, int in_w, int ci_n, int out_h,
                    int out_w, int co_n, int relu, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 3) / 4, tiles_h = (out_h + 3) / 4, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), ms = PLANE(chunk, co_n);
  f32 *v = scratch;                        /* [36][vs] */
  f32 *m = scratch + 36 * vs;              /* [36][ms] */
  f32 *tmp = scratch + 36 * vs + 36 * ms; /* 36 vectors: a tile's half-transformed values */
  const v128_t zero4 = wasm_f32x4_splat(0.0f), f4 = wasm_f32x4_splat(4.0f), f8 = wasm_f32x4_splat(8.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd4_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs, tmp);
    for (int xi = 0; xi < 36; xi++)
      matmul(v + xi * vs, u + xi * ci_n * co_n, m + xi * ms, co_n, ci_n, ci_n, 1, 0, nt);
    const int step = ms;
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 4 * ty, ox = 4 * tx;
      for (int c = 0; c < co_n; c += 4) {
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 6; j++) {
          v128_t e[6], o[4];
          _Pragma("clang loop unroll(full)")
          for (int i = 0; i < 6; i++) e[i] = ld(m + (i * 6 + j) * step + q * co_n + c);
          AT6(e, o);
          _Pragma("clang loop unroll(full)")
          for (int i = 0; i < 4; i++) st(tmp + (i * 6 + j) * 4, o[i]);
        }
        const v128_t bv = bias ? ld(bias + c) : zero4;
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 4; i++) {
          if (oy + i >= out_h) continue;
          v128_t f[6], o[4];
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 6; j++) f[j] = ld(tmp + (i * 6 + j) * 4);
          AT6(f, o);
          f32 *yo = y + ((b * out_h + oy + i) * out_w + ox) * co_n + c;
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 4; j++) {
            if (ox + j >= out_w) continue;
            v128_t r_ = wasm_f32x4_add(o[j], bv);
            if (relu) r_ = wasm_f32x4_pmax(r_, zero4);
            st(yo + j * co_n, r_);
          }
        }
      }
    }
  }
}

/* A·g for one 4-vector (the transpose of AT6): A = [1 0 0 0; 1 1 1 1; 1 −1 1 −1; 1 2 4 8; 1 −2 4 −8; 0 0 0 1]. */
#define A6(g, o)                                                                                   \
  do {                                                                                             \
    const v128_t e_ = wasm_f32x4_add(g[0], g[2]), d_ = wasm_f32x4_add(g[1], g[3]);                  \
    const v128_t e4_ = wasm_f32x4_add(g[0], wasm_f32x4_mul(f4, g[2]));                             \
    const v128_t d8_ = wasm_f32x4_add(wasm_f32x4_add(g[1], g[1]), wasm_f32x4_mul(f8, g[3]));        \
    o[0] = g[0];                                                                                   \
    o[1] = wasm_f32x4_add(e_, d_);                                                                 \
    o[2] = wasm_f32x4_sub(e_, d_);                                                                 \
    o[3] = wasm_f32x4_add(e4_, d8_);                                                               \
    o[4] = wasm_f32x4_sub(e4_, d8_);                                                               \
    o[5] = g[3];                                                                                   \
  } while (0)

/*
 * F(4×4, 3×3) filter gradient, tiles [tile_begin, tile_end): as winograd_filter_grad with 6×6 input
 * patches and Z = A·dy_t·Aᵀ from each 4×4 output-gradient tile (rows and columns past an edge count
 * as 0); du holds [36][ci_n][co_n] per thread, summed and mapped back by winograd4_filter_grad_finish.
 * scratch: 36·(PLANE(chunk, ci_n) + PLANE(chunk, co_n) + 4) floats.
 */
EXPORT(winograd4_filter_grad)
void winograd4_filter_grad(const f32 *x, const f32 *dy, f32 *du, int in_h, int in_w, int ci_n, int out_h, int out_w,
                           int co_n, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 3) / 4, tiles_h = (out_h + 3) / 4, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), zs = PLANE(chunk, co_n);
  f32 *v = scratch;                        /* [36][vs] */
  f32 *z = scratch + 36 * vs;              /* [36][zs] */
  f32 *tmp = scratch + 36 * vs + 36 * zs; /* 36 vectors */
  const v128_t zero4 = wasm_f32x4_splat(0.0f), f4 = wasm_f32x4_splat(4.0f), f8 = wasm_f32x4_splat(8.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd4_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs, tmp);
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 4 * ty, ox = 4 * tx;
      const f32 *g = dy + ((b * out_h + oy) * out_w + ox) * co_n;
      for (int c = 0; c < co_n; c += 4) {
        /* columns: h[k][j] = (A·dy[:, j])[k] into tmp */
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 4; j++) {
          v128_t d[4], o[6];
          _Pragma("clang loop unroll(full)")
          for (int i = 0; i < 4; i++) d[i] = oy + i < out_h && ox + j < out_w ? ld(g + (i * out_w + j) * co_n + c) : zero4;
          A6(d, o);
          _Pragma("clang loop unroll(full)")
          for (int k = 0; k < 6; k++) st(tmp + (k * 4 + j) * 4, o[k]);
        }
        /* rows: Z[k][l] = (A·h[k, :])[l] */
        _Pragma("clang loop unroll(full)")
        for (int k = 0; k < 6; k++) {
          v128_t d[4], o[6];
          _Pragma("clang loop unroll(full)")
          for (int j = 0; j < 4; j++) d[j] = ld(tmp + (k * 4 + j) * 4);
          A6(d, o);
          f32 *out = z + k * 6 * zs + q * co_n + c;
          _Pragma("clang loop unroll(full)")
          for (int l = 0; l < 6; l++) st(out + l * zs, o[l]);
        }
      }
    }
    /* dU[ξ] += V[ξ]ᵀ·Z[ξ]: [ci_n × nt]·[nt × co_n], V read transposed through its strides. */
    for (int xi = 0; xi < 36; xi++)
      matmul_acc(v + xi * vs, z + xi * zs, du + xi * ci_n * co_n, co_n, nt, 1, ci_n, 0, ci_n);
  }
}

/* Gᵀ·m for one 6-vector (G as in winograd4_filter): 3 outputs. */
#define GT6(m, o)                                                                                              \
  do {                                                                                                         \
    const v128_t s12_ = wasm_f32x4_add(m[1], m[2]), d21_ = wasm_f32x4_sub(m[2], m[1]);                          \
    const v128_t s34_ = wasm_f32x4_add(m[3], m[4]), d34_ = wasm_f32x4_sub(m[3], m[4]);                          \
    o[0] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(q4, m[0]), wasm_f32x4_mul(s6, s12_)), wasm_f32x4_mul(s24, s34_)); \
    o[1] = wasm_f32x4_add(wasm_f32x4_mul(s6, d21_), wasm_f32x4_mul(s12, d34_));                                 \
    o[2] = wasm_f32x4_add(wasm_f32x4_mul(s6, wasm_f32x4_sub(s34_, s12_)), m[5]);                                \
  } while (0)

/* dw = Gᵀ·(Σ_p du_p)·G over `parts` [36][ci_n][co_n] partials, for the filter-plane entries e in [e_begin, e_end). */
EXPORT(winograd4_filter_grad_finish)
void winograd4_filter_grad_finish(const f32 *du, int parts, f32 *dw, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  const v128_t q4 = wasm_f32x4_splat(0.25f), s6 = wasm_f32x4_splat(1.0f / 6.0f);
  const v128_t s12 = wasm_f32x4_splat(1.0f / 12.0f), s24 = wasm_f32x4_splat(1.0f / 24.0f);
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t t[3][6];
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 6; j++) {
      v128_t m[6], o[3];
      _Pragma("clang loop unroll(full)")
      for (int i = 0; i < 6; i++) {
        v128_t acc = ld(du + (i * 6 + j) * plane + e);
        for (int p = 1; p < parts; p++) acc = wasm_f32x4_add(acc, ld(du + (long)p * 36 * plane + (i * 6 + j) * plane + e));
        m[i] = acc;
      }
      GT6(m, o);
      _Pragma("clang loop unroll(full)")
      for (int a = 0; a < 3; a++) t[a][j] = o[a];
    }
    _Pragma("clang loop unroll(full)")
    for (int a = 0; a < 3; a++) {
      v128_t o[3];
      GT6(t[a], o);
      _Pragma("clang loop unroll(full)")
      for (int b = 0; b < 3; b++) st(dw + (a * 3 + b) * plane + e, o[b]);
    }
  }
}

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
          v128_t o0 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(f[i][0], f[i][1]), f[i][3]), bv);
          v128_t o1 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(f[i][1], f[i][2]), f[i][4]), bv);
          if (relu) o0 = wasm_f32x4_pmax(o0, zero4), o1 = wasm_f32x4_pmax(o1, zero4);
          f32 *yo = y + ((b * out_h + oy + i) * out_w + ox) * co_n + c;
          st(yo, o0);
          if (ox + 1 < out_w) st(yo + co_n, o1);
        }
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
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd_s2_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs);
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 2 * ty, ox = 2 * tx;
      const int has_r1 = oy + 1 < out_h, has_c1 = ox + 1 < out_w;
      const f32 *g = dy + ((b * out_h + oy) * out_w + ox) * co_n;
      for (int c = 0; c < co_n; c += 4) {
        const v128_t g00 = ld(g + c), g01 = has_c1 ? ld(g + co_n + c) : zero4;
        const v128_t g10 = has_r1 ? ld(g + out_w * co_n + c) : zero4;
        const v128_t g11 = has_r1 && has_c1 ? ld(g + (out_w + 1) * co_n + c) : zero4;
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
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 2 * ty, ox = 2 * tx;
      const int has_r1 = oy + 1 < out_h, has_c1 = ox + 1 < out_w;
      const f32 *g = dy + ((b * out_h + oy) * out_w + ox) * co_n;
      for (int c = 0; c < co_n; c += 4) {
        const v128_t g00 = ld(g + c), g01 = has_c1 ? ld(g + co_n + c) : zero4;
        const v128_t g10 = has_r1 ? ld(g + out_w * co_n + c) : zero4;
        const v128_t g11 = has_r1 && has_c1 ? ld(g + (out_w + 1) * co_n + c) : zero4;
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

/* y [batch, out_h, out_w, c] = x [batch, in_h, in_w, c] from row `top`, column `left` (the inverse of pad_nhwc). */
EXPORT(crop_nhwc)
void crop_nhwc(const f32 *x, f32 *y, int batch, int in_h, int in_w, int c, int top, int left, int out_h, int out_w) {
  const unsigned long row = (unsigned long)out_w * c * sizeof(f32);
  for (int b = 0; b < batch; b++)
    for (int r = 0; r < out_h; r++)
      __builtin_memcpy(y + ((long)b * out_h + r) * out_w * c, x + (((long)b * in_h + top + r) * in_w + left) * c, row);
}

/*
 * Winograd F(2×2, 3×3) filter gradient, tiles [tile_begin, tile_end): accumulates into du
 * [16][ci_n][co_n] the sums Σ_t V[ξ][t]ᵀ·Z[ξ][t], V the input tiles' transform (as forward) and
 * Z = A·dy_t·Aᵀ (A = [1 0; 1 1; 1 −1; 0 −1]) the 2×2 output-gradient tile spread to 4×4 (rows and
 * columns past an odd edge count as 0). x padded as for winograd_conv; dy is [batch, out_h, out_w,
 * co_n]. du must be zeroed by the caller (threads keep separate partials); winograd_filter_grad_finish
 * sums them and returns dw = Gᵀ·dU·G. scratch: 16·(PLANE(chunk, ci_n) + PLANE(chunk, co_n)) floats.
 */
EXPORT(winograd_filter_grad)
void winograd_filter_grad(const f32 *x, const f32 *dy, f32 *du, int in_h, int in_w, int ci_n, int out_h, int out_w,
                          int co_n, int tile_begin, int tile_end, int chunk, f32 *scratch) {
  const int tiles_w = (out_w + 1) / 2, tiles_h = (out_h + 1) / 2, per_image = tiles_w * tiles_h;
  const int vs = PLANE(chunk, ci_n), zs = PLANE(chunk, co_n);
  f32 *v = scratch;           /* [16][vs] */
  f32 *z = scratch + 16 * vs; /* [16][zs] */
  const v128_t zero4 = wasm_f32x4_splat(0.0f);
  for (int t0 = tile_begin; t0 < tile_end; t0 += chunk) {
    const int nt = t0 + chunk < tile_end ? chunk : tile_end - t0;
    winograd_input(x, v, in_h, in_w, ci_n, tiles_w, per_image, t0, nt, vs);
    for (int q = 0; q < nt; q++) {
      const int t = t0 + q, b = t / per_image, r = t - b * per_image, ty = r / tiles_w, tx = r - ty * tiles_w;
      const int oy = 2 * ty, ox = 2 * tx;
      const int has_r1 = oy + 1 < out_h, has_c1 = ox + 1 < out_w;
      const f32 *g = dy + ((b * out_h + oy) * out_w + ox) * co_n;
      for (int c = 0; c < co_n; c += 4) {
        const v128_t g00 = ld(g + c), g01 = has_c1 ? ld(g + co_n + c) : zero4;
        const v128_t g10 = has_r1 ? ld(g + out_w * co_n + c) : zero4;
        const v128_t g11 = has_r1 && has_c1 ? ld(g + (out_w + 1) * co_n + c) : zero4;
        /* rows of A·g: [g0, g0+g1, g0−g1, −g1] for each column */
        v128_t h[4][2];
        h[0][0] = g00, h[0][1] = g01;
        h[1][0] = wasm_f32x4_add(g00, g10), h[1][1] = wasm_f32x4_add(g01, g11);
        h[2][0] = wasm_f32x4_sub(g00, g10), h[2][1] = wasm_f32x4_sub(g01, g11);
        h[3][0] = wasm_f32x4_neg(g10), h[3][1] = wasm_f32x4_neg(g11);
        const int step = zs;
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < 4; i++) {
          f32 *o = z + i * 4 * zs + q * co_n + c;
          st(o, h[i][0]);
          st(o + step, wasm_f32x4_add(h[i][0], h[i][1]));
          st(o + 2 * step, wasm_f32x4_sub(h[i][0], h[i][1]));
          st(o + 3 * step, wasm_f32x4_neg(h[i][1]));
        }
      }
    }
    /* dU[ξ] += V[ξ]ᵀ·Z[ξ]: [ci_n × nt]·[nt × co_n], V read transposed through its strides. */
    for (int xi = 0; xi < 16; xi++)
      matmul_acc(v + xi * vs, z + xi * zs, du + xi * ci_n * co_n, co_n, nt, 1, ci_n, 0, ci_n);
  }
}

/*
 * dw[i][j][ci][co] = (Gᵀ·(Σ_p du_p)·G)[i][j], Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1], over `parts`
 * partials, for the filter-plane entries e in [e_begin, e_end) (multiples of 4).
 */
EXPORT(winograd_filter_grad_finish)
void winograd_filter_grad_finish(const f32 *du, int parts, f32 *dw, int ci_n, int co_n, int e_begin, int e_end) {
  const int plane = ci_n * co_n;
  const v128_t half = wasm_f32x4_splat(0.5f);
  for (int e = e_begin; e < e_end; e += 4) {
    v128_t m[4][4], t[3][4];
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 4; i++)
      _Pragma("clang loop unroll(full)")
      for (int j = 0; j < 4; j++) {
        v128_t acc = ld(du + (i * 4 + j) * plane + e);
        for (int p = 1; p < parts; p++) acc = wasm_f32x4_add(acc, ld(du + (long)p * 16 * plane + (i * 4 + j) * plane + e));
        m[i][j] = acc;
      }
    _Pragma("clang loop unroll(full)")
    for (int j = 0; j < 4; j++) {
      const v128_t s = wasm_f32x4_mul(half, wasm_f32x4_add(m[1][j], m[2][j]));
      t[0][j] = wasm_f32x4_add(m[0][j], s);
      t[1][j] = wasm_f32x4_mul(half, wasm_f32x4_sub(m[1][j], m[2][j]));
      t[2][j] = wasm_f32x4_add(s, m[3][j]);
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 3; i++) {
      const v128_t s = wasm_f32x4_mul(half, wasm_f32x4_add(t[i][1], t[i][2]));
      st(dw + (i * 3 + 0) * plane + e, wasm_f32x4_add(t[i][0], s));
      st(dw + (i * 3 + 1) * plane + e, wasm_f32x4_mul(half, wasm_f32x4_sub(t[i][1], t[i][2])));
      st(dw + (i * 3 + 2) * plane + e, wasm_f32x4_add(s, t[i][3]));
    }
  }
}
