import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { denseLinalg } from '../linalg.js';
import { ROW_STATISTICS_BLOCK_ROWS, type OnnxLinalg } from '../onnx/linalg.js';
import { tf } from '../tf.js';
import { l2Normalize, logSumExp } from './rows.js';

/**
 * Per-row statistics of features x [N, D]: of the logits ℓ = x·Wᵀ + b, `logsumexp` (max-subtracted),
 * `argmax` (first index on ties) and `maxLogit`; of a projection, `projectedNorm` = ‖(x − c)·B‖; of a
 * bank of rows G [M, D], `meanTopK` = the mean of the k largest x̂·g, x̂ = x / max(‖x‖, 1e-30).
 */
export type RowStatistic = 'logsumexp' | 'argmax' | 'maxLogit' | 'projectedNorm' | 'meanTopK';
export const HEAD_STATISTICS: readonly RowStatistic[] = ['logsumexp', 'argmax', 'maxLogit'];

export interface RowStatisticsSpec {
  readonly dim: number;
  /** The final layer: weight [classes, dim] row-major (PyTorch's Linear.weight) and bias [classes]. */
  readonly head?: { readonly weight: ArrayLike<number>; readonly bias: ArrayLike<number>; readonly classes: number };
  /** Centre c [dim] and row-major basis B [dim, width]. */
  readonly projection?: { readonly centre: Float32Array; readonly basis: Float32Array; readonly width: number };
  /** Bank rows G, row-major [count, dim], and k ≤ count. */
  readonly bank?: { readonly rows: Float32Array; readonly count: number; readonly k: number };
  readonly outputs: readonly RowStatistic[];
}

export interface RowStatisticsResult {
  logsumexp?: Float32Array;
  argmax?: Int32Array;
  maxLogit?: Float32Array;
  projectedNorm?: Float32Array;
  meanTopK?: Float32Array;
}

/** The spec's arrays as both routes take them: Wᵀ [dim, classes] and float32 everywhere. */
export interface PreparedRowStatistics {
  readonly dim: number;
  readonly outputs: readonly RowStatistic[];
  readonly head?: { readonly weightT: Float32Array; readonly bias: Float32Array; readonly classes: number };
  readonly projection?: { readonly centre: Float32Array; readonly basis: Float32Array; readonly width: number };
  /** Gᵀ [dim, count]. */
  readonly bank?: { readonly rowsT: Float32Array; readonly count: number; readonly k: number };
}

/**
 * The statistics a method needs from its rows in one pass, on the `compute.linalg` route:
 * onnxruntime's kernels (one graph per set of outputs), or tfjs ops on the backend. Rows come as a
 * host array [count, dim] or as a tensor already on the backend.
 */
export class RowStatistics {
  private tensors?: { weightT?: Tensor2D; bias?: Tensor; centre?: Tensor; basis?: Tensor2D; bankT?: Tensor2D };

  private constructor(
    private readonly linalg: OnnxLinalg | undefined,
    private readonly spec: PreparedRowStatistics,
  ) {
    if (!linalg) {
      const { head, projection, bank, dim } = spec;
      this.tensors = {
        ...(head ? { weightT: tf.tensor2d(head.weightT, [dim, head.classes], 'float32'), bias: tf.tensor1d(head.bias, 'float32') } : {}),
        ...(projection
          ? { centre: tf.tensor1d(projection.centre, 'float32'), basis: tf.tensor2d(projection.basis, [dim, projection.width], 'float32') }
          : {}),
        ...(bank ? { bankT: tf.tensor2d(bank.rowsT, [dim, bank.count], 'float32') } : {}),
      };
    }
  }

  static async create(spec: RowStatisticsSpec): Promise<RowStatistics> {
    return new RowStatistics(await denseLinalg(), prepare(spec));
  }

  /** Which route computes the statistics. */
  get route(): 'onnxruntime' | 'backend' {
    return this.linalg ? 'onnxruntime' : 'backend';
  }

  /**
   * The statistics of every row of `x`. With a tensor, `host` may carry the same rows on the host:
   * the onnxruntime route reads them there instead of downloading the tensor.
   */
  async compute(x: Float32Array | Tensor2D, host?: Float32Array): Promise<RowStatisticsResult> {
    const { dim } = this.spec;
    if (x instanceof Float32Array) {
      const count = x.length / dim;
      if (!Number.isInteger(count)) throw new RangeError(`RowStatistics: ${x.length} values are not rows of ${dim}`);
      if (this.linalg) return this.linalg.rowStatistics(this.spec, x, count);
      const parts: RowStatisticsResult[] = [];
      for (let start = 0; start < count; start += ROW_STATISTICS_BLOCK_ROWS) {
        const rows = Math.min(ROW_STATISTICS_BLOCK_ROWS, count - start);
        const block = tf.tensor2d(x.subarray(start * dim, (start + rows) * dim), [rows, dim], 'float32');
        try {
          parts.push(await this.onBackend(block));
        } finally {
          block.dispose();
        }
      }
      return concatResults(this.spec.outputs, parts, count);
    }
    if (x.rank !== 2 || x.shape[1] !== dim)
      throw new RangeError(`RowStatistics: rows have shape [${x.shape.join(', ')}], expected [N, ${dim}]`);
    if (host && host.length !== x.shape[0] * dim) {
      throw new RangeError(`RowStatistics: host rows hold ${host.length} values, the tensor [${x.shape.join(', ')}]`);
    }
    if (this.linalg) return this.linalg.rowStatistics(this.spec, host ?? ((await x.data()) as Float32Array), x.shape[0]);
    return this.onBackend(x);
  }

  dispose(): void {
    for (const t of Object.values(this.tensors ?? {})) t?.dispose();
    this.tensors = undefined;
  }

  private async onBackend(x: Tensor2D): Promise<RowStatisticsResult> {
    const t = this.tensors!;
    const wanted = new Set(this.spec.outputs);
    const out = tf.tidy(() => {
      const result: Partial<Record<RowStatistic, Tensor>> = {};
      if (t.weightT) {
        const logits = tf.add(tf.matMul(x, t.weightT), t.bias!) as Tensor2D;
        if (wanted.has('maxLogit')) result.maxLogit = tf.max(logits, 1);
        if (wanted.has('logsumexp')) result.logsumexp = logSumExp(logits);
        if (wanted.has('argmax')) result.argmax = tf.argMax(logits, 1);
      }
      // sqrt(Σ y²) rather than tf.norm, which adds abs and pow passes over the [N, width] product
      if (t.basis && wanted.has('projectedNorm'))
        result.projectedNorm = tf.sqrt(tf.sum(tf.square(tf.matMul(tf.sub(x, t.centre!), t.basis)), 1));
      if (t.bankT && wanted.has('meanTopK')) {
        result.meanTopK = tf.mean(tf.topk(tf.matMul(l2Normalize(x), t.bankT), this.spec.bank!.k, true).values, 1);
      }
      return result;
    });
    const result: RowStatisticsResult = {};
    try {
      for (const [k, v] of Object.entries(out) as [RowStatistic, Tensor][]) {
        const data = await v.data();
        if (k === 'argmax') result.argmax = Int32Array.from(data);
        else result[k] = data as Float32Array;
      }
    } finally {
      for (const v of Object.values(out)) v.dispose();
    }
    return result;
  }
}

function prepare(spec: RowStatisticsSpec): PreparedRowStatistics {
  const { dim, head, projection, bank, outputs } = spec;
  for (const o of outputs) {
    const needs = HEAD_STATISTICS.includes(o)
      ? head
        ? ''
        : 'a head'
      : o === 'projectedNorm'
        ? projection
          ? ''
          : 'a projection'
        : bank
          ? ''
          : 'a bank';
    if (needs) throw new RangeError(`RowStatistics: output '${o}' needs ${needs}`);
  }
  let prepared: PreparedRowStatistics = { dim, outputs: [...outputs] };
  if (head) {
    const c = head.classes;
    if (head.weight.length !== c * dim || head.bias.length !== c) {
      throw new RangeError(
        `RowStatistics: head has ${head.weight.length} weights and ${head.bias.length} biases, expected ${c}×${dim} and ${c}`,
      );
    }
    const weightT = new Float32Array(dim * c);
    for (let k = 0; k < c; k++) for (let j = 0; j < dim; j++) weightT[j * c + k] = head.weight[k * dim + j];
    prepared = { ...prepared, head: { weightT, bias: Float32Array.from(head.bias), classes: c } };
  }
  if (projection) {
    if (projection.centre.length !== dim || projection.basis.length !== dim * projection.width) {
      throw new RangeError(
        `RowStatistics: centre has ${projection.centre.length} values and basis ${projection.basis.length}, expected ${dim} and ${dim}×${projection.width}`,
      );
    }
    prepared = { ...prepared, projection };
  }
  if (bank) {
    if (bank.rows.length !== bank.count * dim || !(Number.isInteger(bank.k) && bank.k >= 1 && bank.k <= bank.count)) {
      throw new RangeError(
        `RowStatistics: bank has ${bank.rows.length} values and k = ${bank.k}, expected ${bank.count}×${dim} and 1 ≤ k ≤ ${bank.count}`,
      );
    }
    const rowsT = new Float32Array(dim * bank.count);
    for (let r = 0; r < bank.count; r++) for (let j = 0; j < dim; j++) rowsT[j * bank.count + r] = bank.rows[r * dim + j]!;
    prepared = { ...prepared, bank: { rowsT, count: bank.count, k: bank.k } };
  }
  return prepared;
}

/** Block results joined in row order. */
export function concatResults(outputs: readonly RowStatistic[], parts: readonly RowStatisticsResult[], count: number): RowStatisticsResult {
  const result: RowStatisticsResult = {};
  for (const o of outputs) {
    const joined = o === 'argmax' ? new Int32Array(count) : new Float32Array(count);
    let at = 0;
    for (const p of parts) {
      const v = p[o]!;
      joined.set(v, at);
      at += v.length;
    }
    (result as Record<RowStatistic, Float32Array | Int32Array>)[o] = joined;
  }
  return result;
}
