import { l2Normalize, tf, wasmNeighbourIndex, type WasmNeighbourIndex } from '@oodkit/compute';
import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';

/** Row-wise z / ‖z‖ (a zero row stays zero); the one definition lives in @oodkit/compute. */
export { l2Normalize };

/**
 * q·Xᵀ for queries q [m, D] and a bank block held transposed, cols = Xᵀ [D, n] → [m, n].
 * On the wasm backend the product runs as a 1×1 convolution: XNNPACK's convolution is ~10× faster
 * there than tfjs-wasm's matMul (measured, tools/bench/knn-search.ts); elsewhere it is a matMul.
 */
export function blockProduct(q: Tensor2D, cols: Tensor2D): Tensor2D {
  return tf.tidy(() => {
    const [m, d] = q.shape;
    const n = cols.shape[1];
    if (tf.getBackend() === 'wasm') {
      const y = tf.conv2d(q.reshape([1, m, 1, d]) as Tensor4D, cols.reshape([1, 1, d, n]) as Tensor4D, 1, 'valid');
      return y.reshape([m, n]) as Tensor2D;
    }
    return tf.matMul(q, cols) as Tensor2D;
  });
}

/** How a bank row is scored against a query: larger = nearer. */
export type NeighbourMetric =
  /** q·x (faiss IndexFlatIP). */
  | 'inner_product'
  /** −‖q − x‖², evaluated as faiss IndexFlatL2 does: ‖q‖² + ‖x‖² − 2q·x, clamped at 0. */
  | 'neg_squared_l2';

/**
 * An exact nearest-neighbour bank (no approximate index): every query meets every bank row once.
 * On the wasm backend the rows are packed once on the heap and searched by oodkit's fused kernel
 * (register-tiled product + running top-k, `wasmNeighbourIndex`); on other backends they are held
 * in transposed blocks and searched by blocked matmul + tf.topk. `useKernel: false` forces the
 * tfjs path (tests, benchmarks).
 */
export class NeighbourBank {
  readonly count: number;
  readonly dim: number;
  /** Bank rows transposed per block, cols = Xᵀ [D, n], with their squared norms. */
  private readonly blocks: { cols: Tensor2D; sqNorms: Tensor1D }[] = [];
  /** The packed bank of the wasm kernel, when it is used. */
  private index?: WasmNeighbourIndex;

  /** `rows` [count, dim] (copied; the caller keeps ownership of `rows`). */
  constructor(
    rows: Tensor2D,
    readonly metric: NeighbourMetric,
    readonly blockRows = 8192,
    options: { useKernel?: boolean } = {},
  ) {
    this.count = rows.shape[0];
    this.dim = rows.shape[1];
    if (options.useKernel !== false && this.count > 0 && rows.dtype === 'float32') {
      this.index = wasmNeighbourIndex(rows.dataSync() as Float32Array, this.count, this.dim);
      if (this.index) return;
    }
    for (let start = 0; start < this.count; start += blockRows) {
      const size = Math.min(blockRows, this.count - start);
      const block = tf.tidy(() => {
        const r = rows.slice([start, 0], [size, this.dim]);
        return { cols: r.transpose() as Tensor2D, sqNorms: tf.sum(tf.square(r), 1) as Tensor1D };
      });
      this.blocks.push(block);
    }
  }

  /**
   * The k best scores of every query row, sorted descending [N, k] (k ≤ count). For
   * 'neg_squared_l2' the values are −(squared distance); the k-th nearest distance is −values[:, k−1].
   * Queries are processed `queryRows` at a time so a block's score matrix stays small.
   */
  topK(queries: Tensor2D, k: number, queryRows = 1024): Tensor2D {
    if (!(k >= 1 && k <= this.count)) throw new RangeError(`NeighbourBank.topK: k = ${k} must be in [1, ${this.count}]`);
    const n = queries.shape[0];
    if (this.index) {
      if (queries.shape[1] !== this.dim)
        throw new RangeError(`NeighbourBank.topK: queries have ${queries.shape[1]} columns, the bank ${this.dim}`);
      const values = this.index.topK(queries.dataSync() as Float32Array, n, k, this.metric === 'neg_squared_l2');
      return tf.tensor2d(values, [n, k], 'float32');
    }
    const parts: Tensor2D[] = [];
    try {
      for (let start = 0; start < n; start += queryRows) {
        const size = Math.min(queryRows, n - start);
        parts.push(tf.tidy(() => this.topKChunk(queries.slice([start, 0], [size, this.dim]), k)));
      }
      if (parts.length === 0) return tf.zeros([0, k]) as Tensor2D;
      return parts.length === 1 ? parts.pop()! : (tf.concat(parts, 0) as Tensor2D);
    } finally {
      for (const p of parts) p.dispose();
    }
  }

  private topKChunk(q: Tensor2D, k: number): Tensor2D {
    const qSq = this.metric === 'neg_squared_l2' ? tf.sum(tf.square(q), 1, true) : undefined;
    let best: Tensor2D | undefined;
    for (const block of this.blocks) {
      const next = tf.tidy(() => {
        const ip = blockProduct(q, block.cols);
        let s: Tensor2D = ip;
        if (qSq) {
          // −max(‖q‖² + ‖x‖² − 2q·x, 0), faiss's expansion and clamp.
          const d = tf.relu(tf.sub(tf.add(qSq, block.sqNorms.expandDims(0)), tf.mul(ip, 2)));
          s = tf.neg(d) as Tensor2D;
        }
        const kk = Math.min(k, s.shape[1]);
        const top = tf.topk(s, kk, true).values as Tensor2D;
        if (!best) return top;
        const merged = tf.concat([best, top], 1) as Tensor2D;
        return tf.topk(merged, Math.min(k, merged.shape[1]), true).values as Tensor2D;
      });
      best?.dispose();
      best = next;
    }
    return best!;
  }

  dispose(): void {
    this.index?.dispose();
    this.index = undefined;
    for (const b of this.blocks) {
      b.cols.dispose();
      b.sqNorms.dispose();
    }
    this.blocks.length = 0;
  }
}
