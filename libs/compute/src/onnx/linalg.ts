import type { InferenceSession } from 'onnxruntime-node';
import { concatResults, type PreparedRowStatistics, type RowStatistic, type RowStatisticsResult } from '../ops/row-statistics.js';
import { NORM_FLOOR } from '../ops/rows.js';
import { encodeOnnxModel, type OnnxNodeSpec, type OnnxValueSpec } from './proto.js';
import type { OnnxRuntimeModule } from './runtime.js';

/**
 * Rows per second-moment product. Each block's float32 Gram is added into a float64 sum, so float32
 * rounding accumulates over at most this many rows rather than the whole split (OpenOOD's vim takes
 * one float32 product over all of them); 4,096 rows of 512 features are 8 MB of (x − c).
 */
export const SECOND_MOMENT_BLOCK_ROWS = 4096;
/** Rows per row-statistics run: bounds onnxruntime's (x − c) and product buffers (~12 MB at D = 512). */
export const ROW_STATISTICS_BLOCK_ROWS = 4096;

type OrtTensor = InstanceType<OnnxRuntimeModule['Tensor']>;

interface Graph {
  readonly nodes: OnnxNodeSpec[];
  readonly inputs: OnnxValueSpec[];
  readonly outputs: OnnxValueSpec[];
}

/**
 * Running float64 sums of (x − c)ᵀ(x − c) for a block x [n, d], c [d]: each product's float32 result
 * is cast to float64 and added to its sum input (`<name>In` → `<name>`), so the block-by-block
 * summation runs inside onnxruntime. With `halves`, x − c is split into column halves A, B and only
 * AᵀA, AᵀB, BᵀB are formed (BᵀA is AᵀB transposed): a quarter of the products saved.
 */
function gramGraph(halves: boolean): Graph {
  const products = halves ? ['aa', 'ab', 'bb'] : ['gram'];
  const side = halves ? 'h' : 'd';
  const nodes: OnnxNodeSpec[] = [{ op: 'Sub', inputs: ['x', 'c'], outputs: ['centred'] }];
  if (halves) nodes.push({ op: 'Split', inputs: ['centred'], outputs: ['a', 'b'], attributes: { axis: 1 } });
  for (const name of products) {
    const [p, q] = halves ? [name[0]!, name[1]!] : ['centred', 'centred'];
    nodes.push(
      { op: 'Gemm', inputs: [p, q], outputs: [`${name}32`], attributes: { transA: 1 } },
      { op: 'Cast', inputs: [`${name}32`], outputs: [`${name}64`], attributes: { to: 11 } },
      { op: 'Add', inputs: [`${name}In`, `${name}64`], outputs: [name] },
    );
  }
  return {
    nodes,
    inputs: [
      { name: 'x', shape: ['n', 'd'] },
      { name: 'c', shape: ['d'] },
      ...products.map((name) => ({ name: `${name}In`, shape: [side, side], type: 'float64' as const })),
    ],
    outputs: products.map((name) => ({ name, shape: [side, side], type: 'float64' as const })),
  };
}

/** The graph of a set of row statistics (see RowStatistics). */
function rowStatisticsGraph(spec: PreparedRowStatistics): Graph {
  const nodes: OnnxNodeSpec[] = [];
  const inputs: OnnxValueSpec[] = [{ name: 'x', shape: ['n', 'd'] }];
  const outputs: OnnxValueSpec[] = [];
  const wanted = new Set(spec.outputs);
  if (spec.head) {
    inputs.push({ name: 'weightT', shape: ['d', 'k'] }, { name: 'bias', shape: ['k'] });
    nodes.push(
      { op: 'MatMul', inputs: ['x', 'weightT'], outputs: ['product'] },
      { op: 'Add', inputs: ['product', 'bias'], outputs: ['logits'] },
    );
    const reduce = { axes: [1], keepdims: 0 };
    if (wanted.has('logsumexp')) nodes.push({ op: 'ReduceLogSumExp', inputs: ['logits'], outputs: ['logsumexp'], attributes: reduce });
    if (wanted.has('maxLogit')) nodes.push({ op: 'ReduceMax', inputs: ['logits'], outputs: ['maxLogit'], attributes: reduce });
    if (wanted.has('argmax')) nodes.push({ op: 'ArgMax', inputs: ['logits'], outputs: ['argmax'], attributes: { axis: 1, keepdims: 0 } });
  }
  if (spec.bank && wanted.has('meanTopK')) {
    inputs.push({ name: 'bankT', shape: ['d', 'm'] }, { name: 'normFloor', shape: [1] }, { name: 'k', shape: [1], type: 'int64' });
    nodes.push(
      { op: 'ReduceSumSquare', inputs: ['x'], outputs: ['rowSq'], attributes: { axes: [1], keepdims: 1 } },
      { op: 'Sqrt', inputs: ['rowSq'], outputs: ['rowNorm'] },
      { op: 'Max', inputs: ['rowNorm', 'normFloor'], outputs: ['rowScale'] },
      { op: 'Div', inputs: ['x', 'rowScale'], outputs: ['unit'] },
      { op: 'MatMul', inputs: ['unit', 'bankT'], outputs: ['similarities'] },
      // unsorted: only their mean is wanted
      { op: 'TopK', inputs: ['similarities', 'k'], outputs: ['top', 'topIndices'], attributes: { axis: 1, sorted: 0 } },
      { op: 'ReduceMean', inputs: ['top'], outputs: ['meanTopK'], attributes: { axes: [1], keepdims: 0 } },
    );
  }
  if (spec.projection && wanted.has('projectedNorm')) {
    inputs.push({ name: 'centre', shape: ['d'] }, { name: 'basis', shape: ['d', 'w'] });
    nodes.push(
      { op: 'Sub', inputs: ['x', 'centre'], outputs: ['centred'] },
      { op: 'MatMul', inputs: ['centred', 'basis'], outputs: ['projected'] },
      { op: 'ReduceSumSquare', inputs: ['projected'], outputs: ['squared'], attributes: { axes: [1], keepdims: 0 } },
      { op: 'Sqrt', inputs: ['squared'], outputs: ['projectedNorm'] },
    );
  }
  for (const o of spec.outputs) outputs.push({ name: o, shape: ['n'], ...(o === 'argmax' ? { type: 'int64' as const } : {}) });
  return { nodes, inputs, outputs };
}

/**
 * Dense float32 products on onnxruntime's CPU kernels (MLAS: AVX-512/AVX2 GEMM where the processor
 * has them), for the feature-space products that dominate vim's, residual's and nnguide's time. One session per
 * graph, all shapes symbolic, a fixed intra-op thread count; MLAS splits a product over output tiles,
 * never over the summed dimension, so results do not depend on the thread count (tested). Sessions
 * keep onnxruntime's memory arena: its buffers stay at the largest block size seen (bounded by the
 * block sizes above) instead of being mapped and faulted in again on every run.
 */
export class OnnxLinalg {
  private readonly sessions = new Map<string, Promise<InferenceSession>>();

  constructor(
    private readonly ort: OnnxRuntimeModule,
    /** onnxruntime's intra-op threads. */
    readonly threads: number,
  ) {}

  /**
   * Σ (x − c)(x − c)ᵀ / N of row-major float32 rows x [count, dim] about c, as a full symmetric
   * float64 [dim, dim] matrix: float32 products in blocks of SECOND_MOMENT_BLOCK_ROWS rows, summed in
   * float64 in block order inside the graph; the upper triangle is kept and mirrored.
   */
  async secondMomentAbout(x: Float32Array, count: number, dim: number, centre: Float32Array): Promise<Float64Array> {
    const halves = dim % 2 === 0 && dim >= 64;
    const h = halves ? dim / 2 : dim;
    const names = halves ? ['aa', 'ab', 'bb'] : ['gram'];
    let sums: Float64Array[] = names.map(() => new Float64Array(h * h));
    const c = this.tensor(centre, [dim]);
    for (let start = 0; start < count; start += SECOND_MOMENT_BLOCK_ROWS) {
      const rows = Math.min(SECOND_MOMENT_BLOCK_ROWS, count - start);
      const feeds: Record<string, OrtTensor> = { x: this.tensor(x.subarray(start * dim, (start + rows) * dim), [rows, dim]), c };
      names.forEach((name, k) => (feeds[`${name}In`] = new this.ort.Tensor('float64', sums[k]!, [h, h])));
      sums = (await this.run(halves ? 'gram-halves' : 'gram', () => gramGraph(halves), feeds, names)) as Float64Array[];
    }
    const out = new Float64Array(dim * dim);
    const set = (i: number, j: number, v: number) => {
      out[i * dim + j] = v / count;
      out[j * dim + i] = v / count;
    };
    if (halves) {
      const [aa, ab, bb] = sums as [Float64Array, Float64Array, Float64Array];
      for (let i = 0; i < h; i++) {
        for (let j = i; j < h; j++) {
          set(i, j, aa[i * h + j]!);
          set(i + h, j + h, bb[i * h + j]!);
        }
        for (let j = 0; j < h; j++) set(i, j + h, ab[i * h + j]!);
      }
    } else {
      const [gram] = sums as [Float64Array];
      for (let i = 0; i < dim; i++) for (let j = i; j < dim; j++) set(i, j, gram[i * dim + j]!);
    }
    return out;
  }

  /** The statistics of `spec` for every row of x [count, dim], in blocks of ROW_STATISTICS_BLOCK_ROWS. */
  async rowStatistics(spec: PreparedRowStatistics, x: Float32Array, count: number): Promise<RowStatisticsResult> {
    const { dim, head, projection, bank } = spec;
    const fixed = {
      ...(bank && spec.outputs.includes('meanTopK')
        ? {
            bankT: this.tensor(bank.rowsT, [dim, bank.count]),
            normFloor: this.tensor(Float32Array.of(NORM_FLOOR), [1]),
            k: new this.ort.Tensor('int64', BigInt64Array.of(BigInt(bank.k)), [1]),
          }
        : {}),
      ...(head ? { weightT: this.tensor(head.weightT, [dim, head.classes]), bias: this.tensor(head.bias, [head.classes]) } : {}),
      ...(projection && spec.outputs.includes('projectedNorm')
        ? { centre: this.tensor(projection.centre, [dim]), basis: this.tensor(projection.basis, [dim, projection.width]) }
        : {}),
    };
    const key = `rows:${head ? 'head' : ''}:${[...spec.outputs].sort().join(',')}`;
    const parts: RowStatisticsResult[] = [];
    for (let start = 0; start < count; start += ROW_STATISTICS_BLOCK_ROWS) {
      const rows = Math.min(ROW_STATISTICS_BLOCK_ROWS, count - start);
      const feeds = { ...fixed, x: this.tensor(x.subarray(start * dim, (start + rows) * dim), [rows, dim]) };
      const values = await this.run(key, () => rowStatisticsGraph(spec), feeds, spec.outputs);
      const part: RowStatisticsResult = {};
      spec.outputs.forEach((o: RowStatistic, i) => {
        if (o === 'argmax') part.argmax = Int32Array.from(values[i] as BigInt64Array, Number);
        else part[o] = values[i] as Float32Array;
      });
      parts.push(part);
    }
    return parts.length === 1 ? parts[0]! : concatResults(spec.outputs, parts, count);
  }

  /**
   * Starts onnxruntime's environment (its first session takes ~25 ms of process-wide set-up; later
   * ones ~1 ms) by creating the second-moment session, so that start-up happens when the route is
   * resolved, not inside the first method's setup.
   */
  async start(): Promise<this> {
    await this.session('gram-halves', () => gramGraph(true));
    return this;
  }

  /** Ends every session (their buffers are freed). */
  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s).release();
  }

  private tensor(data: Float32Array, dims: number[]) {
    return new this.ort.Tensor('float32', data, dims);
  }

  private async run(key: string, graph: () => Graph, feeds: Record<string, OrtTensor>, outputs: readonly string[]): Promise<unknown[]> {
    const result = await (await this.session(key, graph)).run(feeds, [...outputs]);
    return outputs.map((o) => result[o]!.data);
  }

  private session(key: string, graph: () => Graph): Promise<InferenceSession> {
    let session = this.sessions.get(key);
    if (!session) {
      const g = graph();
      session = this.ort.InferenceSession.create(encodeOnnxModel(key, g.nodes, g.inputs, g.outputs), {
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        // A pool that spins after its run takes a core from whatever runs next: the other session's
        // pool or the wasm kernels (on 2 cores a Gram right after a row pass took 206 instead of 145 ms).
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      this.sessions.set(key, session);
    }
    return session;
  }
}
