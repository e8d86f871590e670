import { DataError } from '@oodkit/core';

/**
 * The ID and OOD confidences reduced to what every ranking metric needs: the distinct confidence
 * values in ascending order and how many ID and OOD samples sit at each. Ascending `conf` is
 * descending detector score (score = −conf, OOD positive), so walking the groups forward is walking
 * sklearn's thresholds from high to low; walking them backward is the ID-positive (score = conf) order.
 */
export interface Ranking {
  readonly idCount: number;
  readonly oodCount: number;
  /** Distinct confidence values, ascending (ties are exact float equality; −0 equals +0). */
  readonly values: Float64Array;
  /** ID samples at each distinct value. */
  readonly idAt: Int32Array;
  /** OOD samples at each distinct value. */
  readonly oodAt: Int32Array;
}

export type ConfInput = ArrayLike<number>;

function sortedCopy(conf: ConfInput, which: string): Float64Array {
  const out = Float64Array.from(conf);
  for (let i = 0; i < out.length; i++) {
    // NaN has no place in an order; ±Infinity does and is kept (sklearn rejects both; we only reject
    // what has no defined answer).
    if (Number.isNaN(out[i]!)) throw new DataError(`${which} confidence at index ${i} is NaN`);
  }
  // Native numeric typed-array sort: no JS comparator, so 10^7 values sort in about a second.
  out.sort();
  return out;
}

/** Sort both sets once (O(n log n)) and merge them into tie groups (O(n)). */
export function rankConfidences(idConf: ConfInput, oodConf: ConfInput): Ranking {
  if (idConf.length === 0 || oodConf.length === 0) {
    throw new DataError(`OOD metrics need at least one ID and one OOD score; got ${idConf.length} ID and ${oodConf.length} OOD`);
  }
  const id = sortedCopy(idConf, 'ID');
  const ood = sortedCopy(oodConf, 'OOD');
  const capacity = id.length + ood.length;
  const values = new Float64Array(capacity);
  const idAt = new Int32Array(capacity);
  const oodAt = new Int32Array(capacity);
  let i = 0;
  let j = 0;
  let g = 0;
  while (i < id.length || j < ood.length) {
    const v = i < id.length && (j >= ood.length || id[i]! <= ood[j]!) ? id[i]! : ood[j]!;
    let a = 0;
    let b = 0;
    // `===` makes −0 and +0 one group, as numpy's diff-based tie detection does.
    while (i < id.length && id[i] === v) {
      i++;
      a++;
    }
    while (j < ood.length && ood[j] === v) {
      j++;
      b++;
    }
    values[g] = v;
    idAt[g] = a;
    oodAt[g] = b;
    g++;
  }
  return {
    idCount: id.length,
    oodCount: ood.length,
    values: values.slice(0, g),
    idAt: idAt.slice(0, g),
    oodAt: oodAt.slice(0, g),
  };
}

/** Accepts either raw confidences or a ranking computed earlier, so callers sort only once. */
export function asRanking(idOrRanking: ConfInput | Ranking, oodConf?: ConfInput): Ranking {
  if (isRanking(idOrRanking)) return idOrRanking;
  if (!oodConf) throw new TypeError('OOD confidences are required when the first argument is not a Ranking');
  return rankConfidences(idOrRanking, oodConf);
}

function isRanking(value: ConfInput | Ranking): value is Ranking {
  return (value as Ranking).idAt instanceof Int32Array && (value as Ranking).values instanceof Float64Array;
}

/**
 * Neumaier-compensated sum: a 10^7-point trapezoid summed naively drifts by ~1e-12, compensated it
 * stays at the last bit, so results agree with numpy's pairwise sum well inside 1e-9.
 */
export class CompensatedSum {
  private sum = 0;
  private compensation = 0;

  add(x: number): void {
    const t = this.sum + x;
    if (Math.abs(this.sum) >= Math.abs(x)) this.compensation += this.sum - t + x;
    else this.compensation += x - t + this.sum;
    this.sum = t;
  }

  value(): number {
    return this.sum + this.compensation;
  }
}
