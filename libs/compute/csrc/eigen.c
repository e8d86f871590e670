/*
 * Symmetric eigendecomposition in float64 on the wasm heap: Householder tridiagonalisation and the
 * implicit QL algorithm (EISPACK tred2 / tql2), the same algorithm as
 * libs/postprocessors/src/math/eigen.ts, with f64x2 inner loops. O(n³), one thread; at n = 512 the
 * QL rotations (≈ 6n³ flops) dominate.
 *
 * Works on w = Vᵀ, row-major [n, n]: on entry the symmetric matrix (it is its own transpose), on
 * exit row k is the eigenvector of the k-th smallest eigenvalue d[k]. e is n values of scratch.
 */
#include "kernels.h"

typedef double f64;

static inline f64 absd(f64 x) { return __builtin_fabs(x); }

/* sqrt(a² + b²) without overflow or underflow. */
static inline f64 hypot2(f64 a, f64 b) {
  a = absd(a), b = absd(b);
  const f64 hi = a > b ? a : b, lo = a > b ? b : a;
  if (hi == 0) return 0;
  const f64 r = lo / hi;
  return hi * __builtin_sqrt(1 + r * r);
}

static inline f64 hsum(v128_t v) { return wasm_f64x2_extract_lane(v, 0) + wasm_f64x2_extract_lane(v, 1); }

/* Σ a[k]·b[k], k < len. */
static inline f64 dot(const f64 *a, const f64 *b, int len) {
  v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
  int k = 0;
  for (; k + 4 <= len; k += 4) {
    s0 = wasm_f64x2_add(s0, wasm_f64x2_mul(wasm_v128_load(a + k), wasm_v128_load(b + k)));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_mul(wasm_v128_load(a + k + 2), wasm_v128_load(b + k + 2)));
  }
  f64 s = hsum(wasm_f64x2_add(s0, s1));
  for (; k < len; k++) s += a[k] * b[k];
  return s;
}

/* y[k] −= f·a[k] + g·b[k], k < len (a, b never alias y). */
static inline void rank2(f64 *y, f64 f, const f64 *a, f64 g, const f64 *b, int len) {
  const v128_t fv = wasm_f64x2_splat(f), gv = wasm_f64x2_splat(g);
  int k = 0;
  for (; k + 2 <= len; k += 2) {
    const v128_t t = wasm_f64x2_add(wasm_f64x2_mul(fv, wasm_v128_load(a + k)), wasm_f64x2_mul(gv, wasm_v128_load(b + k)));
    wasm_v128_store(y + k, wasm_f64x2_sub(wasm_v128_load(y + k), t));
  }
  for (; k < len; k++) y[k] -= f * a[k] + g * b[k];
}

/* y[k] −= g·a[k], k < len. */
static inline void axmy(f64 *y, f64 g, const f64 *a, int len) {
  const v128_t gv = wasm_f64x2_splat(g);
  int k = 0;
  for (; k + 2 <= len; k += 2) wasm_v128_store(y + k, wasm_f64x2_sub(wasm_v128_load(y + k), wasm_f64x2_mul(gv, wasm_v128_load(a + k))));
  for (; k < len; k++) y[k] -= g * a[k];
}

/* Returns Σ w[k]·d[k] and does e[k] += w[k]·f, k < len: one row of the symmetric matrix-vector product. */
static inline f64 symv_row(const f64 *w, const f64 *d, f64 *e, f64 f, int len) {
  const v128_t fv = wasm_f64x2_splat(f);
  v128_t s = wasm_f64x2_splat(0);
  int k = 0;
  for (; k + 2 <= len; k += 2) {
    const v128_t wk = wasm_v128_load(w + k);
    s = wasm_f64x2_add(s, wasm_f64x2_mul(wk, wasm_v128_load(d + k)));
    wasm_v128_store(e + k, wasm_f64x2_add(wasm_v128_load(e + k), wasm_f64x2_mul(wk, fv)));
  }
  f64 g = hsum(s);
  for (; k < len; k++) {
    g += w[k] * d[k];
    e[k] += w[k] * f;
  }
  return g;
}

/* Rows a, b ← (c·a − s·b, s·a + c·b), n values each. */
static inline void rotate(f64 *a, f64 *b, f64 c, f64 s, int n) {
  const v128_t cv = wasm_f64x2_splat(c), sv = wasm_f64x2_splat(s);
  int k = 0;
  for (; k + 2 <= n; k += 2) {
    const v128_t x = wasm_v128_load(a + k), y = wasm_v128_load(b + k);
    wasm_v128_store(b + k, wasm_f64x2_add(wasm_f64x2_mul(sv, x), wasm_f64x2_mul(cv, y)));
    wasm_v128_store(a + k, wasm_f64x2_sub(wasm_f64x2_mul(cv, x), wasm_f64x2_mul(sv, y)));
  }
  for (; k < n; k++) {
    const f64 x = a[k], y = b[k];
    b[k] = s * x + c * y;
    a[k] = c * x - s * y;
  }
}

static void tred2(f64 *w, f64 *d, f64 *e, int n) {
  for (int j = 0; j < n; j++) d[j] = w[j * n + n - 1];
  for (int i = n - 1; i > 0; i--) {
    f64 scale = 0, h = 0;
    for (int k = 0; k < i; k++) scale += absd(d[k]);
    f64 *wi = w + i * n;
    if (scale == 0) {
      e[i] = d[i - 1];
      for (int j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1];
        w[j * n + i] = 0;
        wi[j] = 0;
      }
    } else {
      for (int k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      f64 f = d[i - 1];
      f64 g = __builtin_sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (int j = 0; j < i; j++) e[j] = 0;
      for (int j = 0; j < i; j++) {
        f = d[j];
        wi[j] = f;
        const f64 *wj = w + j * n;
        g = e[j] + wj[j] * f + symv_row(wj + j + 1, d + j + 1, e + j + 1, f, i - 1 - j);
        e[j] = g;
      }
      f = 0;
      for (int j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const f64 hh = f / (h + h);
      for (int j = 0; j < i; j++) e[j] -= hh * d[j];
      for (int j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        f64 *wj = w + j * n;
        rank2(wj + j, f, e + j, g, d + j, i - j);
        d[j] = wj[i - 1];
        wj[i] = 0;
      }
    }
    d[i] = h;
  }
  for (int i = 0; i < n - 1; i++) {
    f64 *wi = w + i * n;
    wi[n - 1] = wi[i];
    wi[i] = 1;
    const f64 h = d[i + 1];
    f64 *wi1 = w + (i + 1) * n;
    if (h != 0) {
      for (int k = 0; k <= i; k++) d[k] = wi1[k] / h;
      for (int j = 0; j <= i; j++) {
        f64 *wj = w + j * n;
        axmy(wj, dot(wi1, wj, i + 1), d, i + 1);
      }
    }
    for (int k = 0; k <= i; k++) wi1[k] = 0;
  }
  for (int j = 0; j < n; j++) {
    d[j] = w[j * n + n - 1];
    w[j * n + n - 1] = 0;
  }
  w[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/* Returns 0, or 1 when an eigenvalue needed more than 300 QL iterations. */
static int tql2(f64 *w, f64 *d, f64 *e, int n) {
  for (int i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  f64 f = 0, tst1 = 0;
  const f64 eps = 0x1p-52;
  for (int l = 0; l < n; l++) {
    const f64 t = absd(d[l]) + absd(e[l]);
    if (t > tst1) tst1 = t;
    int m = l;
    while (m < n && !(absd(e[m]) <= eps * tst1)) m++;
    if (m > l) {
      int iter = 0;
      do {
        if (++iter > 300) return 1;
        f64 g = d[l];
        f64 p = (d[l + 1] - g) / (2 * e[l]);
        f64 r = hypot2(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const f64 dl1 = d[l + 1];
        f64 h = g - d[l];
        for (int i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        f64 c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const f64 el1 = e[l + 1];
        for (int i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot2(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          rotate(w + i * n, w + (i + 1) * n, c, s, n);
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (absd(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
  // ascending order (selection sort, as eigen.ts), rows swapped alongside
  for (int i = 0; i < n - 1; i++) {
    int k = i;
    f64 p = d[i];
    for (int j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k != i) {
      d[k] = d[i];
      d[i] = p;
      f64 *a = w + i * n, *b = w + k * n;
      for (int q = 0; q < n; q++) {
        const f64 tmp = a[q];
        a[q] = b[q];
        b[q] = tmp;
      }
    }
  }
  return 0;
}

/* Eigenvalues to d (ascending), eigenvectors as the rows of w; returns 0, or 1 if QL did not converge. */
EXPORT(symmetric_eigen_f64)
int symmetric_eigen_f64(f64 *w, f64 *d, f64 *e, int n) {
  if (n <= 0) return 0;
  tred2(w, d, e, n);
  return tql2(w, d, e, n);
}
