/**
 * Student's t distribution and the paired t-test, in float64. The CDF goes through the regularised
 * incomplete beta function I_x(a, b), evaluated by its continued fraction (modified Lentz), with the
 * symmetry I_x(a, b) = 1 − I_{1−x}(b, a) so the fraction is always used where it converges fast.
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0]!;
  for (let i = 1; i < 9; i++) sum += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of I_x(a, b) (Numerical Recipes' betacf recurrence, modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) return h;
  }
  throw new Error(`incomplete beta: continued fraction did not converge (x=${x}, a=${a}, b=${b})`);
}

/** The regularised incomplete beta function I_x(a, b), a, b > 0, 0 ≤ x ≤ 1. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new RangeError(`incomplete beta: a and b must be > 0, got a=${a}, b=${b}`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`incomplete beta: x must be in [0, 1], got ${x}`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T ≤ t) for Student's t with `df` > 0 degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTCdf: degrees of freedom must be > 0, got ${df}`);
  if (Number.isNaN(t)) return Number.NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2); computed as the smaller tail so it keeps its digits.
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t < 0 ? tail : 1 - tail;
}

/** Two-sided p-value P(|T| ≥ |t|). */
export function studentTTwoSided(t: number, df: number): number {
  if (Number.isNaN(t)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

export interface PairedTTest {
  /** Number of pairs. */
  readonly n: number;
  /** treatment[i] − control[i], in pair order. */
  readonly deltas: readonly number[];
  readonly meanDelta: number;
  /** Sample standard deviation of the deltas (n − 1 in the denominator); 0 when every delta is equal. */
  readonly sdDelta: number;
  /** mean / (sd / √n); ±Infinity when sd = 0 and the mean is not, NaN when both are 0 or n < 2. */
  readonly t: number;
  readonly df: number;
  /** Two-sided p-value (scipy.stats.ttest_rel's default); NaN where t is. */
  readonly p: number;
  /** Sign of every delta: +1, −1 or 0. */
  readonly signs: readonly number[];
}

/**
 * The paired t-test of `treatment` against `control` (pairs matched by position: seed s with seed s),
 * as scipy.stats.ttest_rel(treatment, control): t = mean(d) / (sd(d)/√n), df = n − 1, two-sided p.
 */
export function pairedTTest(control: readonly number[], treatment: readonly number[]): PairedTTest {
  if (control.length !== treatment.length)
    throw new RangeError(`pairedTTest: ${control.length} control values but ${treatment.length} treatment values (pairs must match)`);
  const n = control.length;
  const deltas = treatment.map((v, i) => v - control[i]!);
  const meanDelta = n === 0 ? Number.NaN : deltas.reduce((s, d) => s + d, 0) / n;
  const sdDelta = n < 2 ? Number.NaN : Math.sqrt(deltas.reduce((s, d) => s + (d - meanDelta) ** 2, 0) / (n - 1));
  const df = n - 1;
  let t: number;
  if (n < 2) t = Number.NaN;
  else if (sdDelta === 0) t = meanDelta === 0 ? Number.NaN : meanDelta > 0 ? Infinity : -Infinity;
  else t = meanDelta / (sdDelta / Math.sqrt(n));
  return { n, deltas, meanDelta, sdDelta, t, df, p: n < 2 ? Number.NaN : studentTTwoSided(t, df), signs: deltas.map(Math.sign) };
}
