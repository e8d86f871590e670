import { DataError } from '@oodkit/core';

/**
 * numpy.round: round half to even (np.round(6.5) = 6). ASH and SCALE derive k from it, so
 * Math.round (half up) would keep one activation too many whenever n·p/100 ends in .5.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/**
 * np.percentile(values, q) with numpy's default 'linear' method over all values (flattened):
 * virtual index (n−1)·q/100, linear interpolation between the two neighbouring order statistics,
 * using numpy's `_lerp` form (b − (b−a)(1−t) when t ≥ 0.5) so results agree to the last bit in float64.
 * Linear-time selection instead of a full sort; `values` is not modified.
 */
export function percentile(values: ArrayLike<number>, q: number, what = 'values'): number {
  const n = values.length;
  if (n === 0) throw new DataError(`percentile of ${what}: no values`);
  if (!(q >= 0 && q <= 100)) throw new DataError(`percentile of ${what}: q must be in [0, 100], got ${q}`);
  const a = Float64Array.from(values as ArrayLike<number>);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(a[i])) throw new DataError(`percentile of ${what}: value ${i} is NaN`);
  }
  const virtual = (n - 1) * (q / 100);
  const lo = Math.floor(virtual);
  const hi = Math.min(lo + 1, n - 1);
  const gamma = virtual - lo;
  select(a, lo);
  const below = a[lo];
  // After selecting lo, the (lo+1)-th order statistic is the minimum of the part right of lo.
  let above = below;
  if (hi > lo) {
    above = Infinity;
    for (let i = lo + 1; i < n; i++) if (a[i] < above) above = a[i];
  }
  return lerp(below, above, gamma);
}

function lerp(a: number, b: number, t: number): number {
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Hoare-style quickselect: afterwards a[k] is the k-th smallest, smaller left, larger right. */
function select(a: Float64Array, k: number): void {
  let left = 0;
  let right = a.length - 1;
  while (right > left) {
    // median of three keeps sorted or constant inputs linear
    const mid = (left + right) >>> 1;
    if (a[mid] < a[left]) swap(a, mid, left);
    if (a[right] < a[left]) swap(a, right, left);
    if (a[right] < a[mid]) swap(a, right, mid);
    const pivot = a[mid];
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}
