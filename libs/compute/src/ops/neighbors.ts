import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { kernelThreads, runShares, type SimdKernels } from '../wasm/simd.js';

interface EmscriptenHeap {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

/** Bank rows per packed panel and query rows per register tile (csrc/neighbors.c PANEL, TILE_ROWS). */
const PANEL = 8;
const TILE_ROWS = 6;
/**
 * Bytes of packed bank walked per pass over a share's queries: the block stays in L2 (512 KB per
 * core on the machines measured) while every query tile meets it (tools/bench/knn-search.ts).
 */
const BANK_BLOCK_BYTES = 192 * 1024;
/** Query rows copied to the heap per kernel call (bounds the scratch: 4096 × 512 floats = 8 MB). */
const QUERY_CHUNK = 4096;
/**
 * Bytes of scratch between shares (csrc/neighbors.c needs SCRATCH_FLOATS floats): 256 apart, the
 * threads' tiles sat close enough to slow 2 threads below 1 (7.9 vs 14.6 GFLOP/s, measured).
 */
const SHARE_SCRATCH_BYTES = 4096;

/** A 16-byte aligned heap block; `free()` releases it. */
interface HeapBlock {
  ptr: number;
  free(): void;
}

function allocate(heap: EmscriptenHeap, bytes: number, what: string): HeapBlock {
  // >>> 0: malloc's i32 result is negative above 2 GiB.
  const raw = heap._malloc(bytes + 16) >>> 0;
  if (!raw) throw new Error(`oodkit neighbours: out of wasm memory allocating ${bytes} bytes for ${what}`);
  return { ptr: raw + ((16 - (raw % 16)) % 16), free: () => heap._free(raw) };
}

function copyIn(heap: EmscriptenHeap, ptr: number, src: Float32Array): void {
  new Float32Array(heap.HEAPU8.buffer, ptr, src.length).set(src);
}

/** Contiguous [begin, end) query ranges, one per thread, cut at multiples of the register tile. */
function rowShares(rows: number, threads: number): [number, number][] {
  const tiles = Math.ceil(rows / TILE_ROWS);
  const parts = Math.max(1, Math.min(threads, tiles));
  const shares: [number, number][] = [];
  for (let p = 0; p < parts; p++) {
    const begin = Math.min(rows, Math.floor((p * tiles) / parts) * TILE_ROWS);
    const end = Math.min(rows, Math.floor(((p + 1) * tiles) / parts) * TILE_ROWS);
    if (begin < end) shares.push([begin, end]);
  }
  return shares;
}

/**
 * Runs `kernel` over query rows [0, m) in chunks of `chunk` rows: `load` copies a chunk to the heap,
 * its rows are split into one share per thread (`share(begin, end, i)` is share i's argument list,
 * rows relative to the chunk), and `store` copies the chunk's outputs out.
 */
function runInChunks(
  backend: BackendWasm,
  kernel: keyof SimdKernels,
  m: number,
  chunk: number,
  steps: {
    load(start: number, size: number): void;
    share(begin: number, end: number, i: number): number[];
    store(start: number, size: number): void;
  },
): void {
  for (let start = 0; start < m; start += chunk) {
    const size = Math.min(chunk, m - start);
    steps.load(start, size);
    runShares(
      backend,
      kernel,
      rowShares(size, kernelThreads(backend)).map(([b, e], i) => steps.share(b, e, i)),
    );
    steps.store(start, size);
  }
}

function blockPanels(dim: number): number {
  return Math.max(1, Math.floor(BANK_BLOCK_BYTES / (4 * PANEL * Math.max(1, dim))));
}

/** Packs row-major [count, dim] rows into the kernel's panels (and their squared norms) on the heap. */
function packRows(backend: BackendWasm, heap: EmscriptenHeap, rows: Float32Array, count: number, dim: number, what: string) {
  const panels = Math.ceil(count / PANEL);
  const packed = allocate(heap, 4 * panels * PANEL * Math.max(1, dim), what);
  const sqNorms = allocate(heap, 4 * panels * PANEL, `${what} norms`);
  const staging = allocate(heap, 4 * Math.max(1, rows.length), `${what} staging`);
  try {
    copyIn(heap, staging.ptr, rows);
    const threads = kernelThreads(backend);
    const shares: number[][] = [];
    for (let p = 0; p < threads; p++) {
      const b = Math.floor((p * panels) / threads);
      const e = Math.floor(((p + 1) * panels) / threads);
      if (b < e) shares.push([staging.ptr, count, dim, packed.ptr, sqNorms.ptr, b, e]);
    }
    runShares(backend, 'neighbour_pack', shares);
  } catch (error) {
    packed.free();
    sqNorms.free();
    throw error;
  } finally {
    staging.free();
  }
  return { packed, sqNorms };
}

/**
 * An exact nearest-neighbour bank on the wasm backend's heap (csrc/neighbors.c): the rows packed
 * once, searched by a register-tiled product fused with a running top-k, threads splitting the
 * queries (disjoint outputs, so the result is the same for any thread count).
 */
export interface WasmNeighbourIndex {
  readonly count: number;
  readonly dim: number;
  /**
   * The k largest scores of each of the `rows` query rows (row-major [rows, dim]), sorted
   * descending, as [rows, k]: q·x, or −max(‖q‖² + ‖x‖² − 2q·x, 0) when `l2`.
   */
  topK(queries: Float32Array, rows: number, k: number, l2: boolean): Float32Array;
  dispose(): void;
}

/** The wasm neighbour index over `rows` [count, dim] (copied), or undefined when the backend is not wasm. */
export function wasmNeighbourIndex(rows: Float32Array, count: number, dim: number): WasmNeighbourIndex | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  if (rows.length !== count * dim) throw new RangeError(`wasmNeighbourIndex: ${rows.length} values for ${count} × ${dim} rows`);
  const backend = tf.backend() as BackendWasm;
  const heap = backend.wasm as unknown as EmscriptenHeap;
  const bank = packRows(backend, heap, rows, count, dim, 'the neighbour bank');
  let freed = false;
  return {
    count,
    dim,
    topK(queries: Float32Array, m: number, k: number, l2: boolean): Float32Array {
      if (freed) throw new Error('WasmNeighbourIndex.topK: index disposed');
      if (!(Number.isInteger(k) && k >= 1 && k <= count))
        throw new RangeError(`WasmNeighbourIndex.topK: k = ${k} must be in [1, ${count}]`);
      if (queries.length !== m * dim) throw new RangeError(`WasmNeighbourIndex.topK: ${queries.length} values for ${m} × ${dim} queries`);
      const result = new Float32Array(m * k);
      const chunk = Math.min(QUERY_CHUNK, Math.max(1, m));
      const q = allocate(heap, 4 * chunk * Math.max(1, dim), 'queries');
      const out = allocate(heap, 4 * chunk * k, 'top-k values');
      const qSq = allocate(heap, 4 * chunk, 'query norms');
      const scratch = allocate(heap, SHARE_SCRATCH_BYTES * Math.max(1, kernelThreads(backend)), 'kernel scratch');
      try {
        runInChunks(backend, 'neighbour_topk', m, chunk, {
          load: (start, size) => copyIn(heap, q.ptr, queries.subarray(start * dim, (start + size) * dim)),
          share: (b, e, i) => [
            q.ptr,
            dim,
            bank.packed.ptr,
            bank.sqNorms.ptr,
            count,
            l2 ? 1 : 0,
            k,
            out.ptr,
            b,
            e,
            blockPanels(dim),
            qSq.ptr,
            scratch.ptr + i * SHARE_SCRATCH_BYTES,
          ],
          store: (start, size) => result.set(new Float32Array(heap.HEAPU8.buffer, out.ptr, size * k), start * k),
        });
      } finally {
        q.free();
        out.free();
        qSq.free();
        scratch.free();
      }
      return result;
    },
    dispose() {
      if (freed) return;
      freed = true;
      bank.packed.free();
      bank.sqNorms.free();
    },
  };
}

/**
 * The relation-graph score against a train set on the wasm backend's heap (csrc/neighbors.c): for
 * each query, Σ_t w^power over the edges w = max(ẑ·ẑ_t, 0)·(p·p_t) > threshold, the feature and
 * probability products fused with the threshold-power sum (float64 sums).
 */
export interface WasmRelationBank {
  readonly count: number;
  /** The sums of `rows` queries: features [rows, dim] (normalised) and probabilities [rows, classes]. */
  sum(features: Float32Array, probs: Float32Array, rows: number, power: number, threshold: number): Float64Array;
  dispose(): void;
}

/**
 * The wasm relation bank over normalised train features [count, dim] and probabilities
 * [count, classes], or undefined when the backend is not wasm. The kernel takes integer powers only:
 * `supportsPower` says whether a power can use it.
 */
export function wasmRelationBank(
  features: Float32Array,
  probs: Float32Array,
  count: number,
  dim: number,
  classes: number,
): WasmRelationBank | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  if (features.length !== count * dim || probs.length !== count * classes)
    throw new RangeError(`wasmRelationBank: ${features.length} / ${probs.length} values for ${count} rows of ${dim} / ${classes}`);
  const backend = tf.backend() as BackendWasm;
  const heap = backend.wasm as unknown as EmscriptenHeap;
  const feat = packRows(backend, heap, features, count, dim, 'the relation features');
  let prob: ReturnType<typeof packRows>;
  try {
    prob = packRows(backend, heap, probs, count, classes, 'the relation probabilities');
  } catch (error) {
    feat.packed.free();
    feat.sqNorms.free();
    throw error;
  }
  let freed = false;
  return {
    count,
    sum(qf: Float32Array, qp: Float32Array, m: number, power: number, threshold: number): Float64Array {
      if (freed) throw new Error('WasmRelationBank.sum: bank disposed');
      if (!relationKernelPower(power)) throw new RangeError(`WasmRelationBank.sum: power ${power} must be an integer in [1, 1024]`);
      if (qf.length !== m * dim || qp.length !== m * classes)
        throw new RangeError(`WasmRelationBank.sum: ${qf.length} / ${qp.length} values for ${m} rows of ${dim} / ${classes}`);
      const result = new Float64Array(m);
      const chunk = Math.min(QUERY_CHUNK, Math.max(1, m));
      const f = allocate(heap, 4 * chunk * Math.max(1, dim), 'relation query features');
      const p = allocate(heap, 4 * chunk * Math.max(1, classes), 'relation query probabilities');
      const out = allocate(heap, 8 * chunk, 'relation sums');
      const scratch = allocate(heap, SHARE_SCRATCH_BYTES * Math.max(1, kernelThreads(backend)), 'kernel scratch');
      try {
        runInChunks(backend, 'relation_sum', m, chunk, {
          load: (start, size) => {
            copyIn(heap, f.ptr, qf.subarray(start * dim, (start + size) * dim));
            copyIn(heap, p.ptr, qp.subarray(start * classes, (start + size) * classes));
          },
          share: (b, e, i) => [
            f.ptr,
            dim,
            p.ptr,
            classes,
            feat.packed.ptr,
            prob.packed.ptr,
            count,
            Math.fround(threshold),
            power,
            out.ptr,
            b,
            e,
            blockPanels(dim + classes),
            scratch.ptr + i * SHARE_SCRATCH_BYTES,
          ],
          store: (start, size) => result.set(new Float64Array(heap.HEAPU8.buffer, out.ptr, size), start),
        });
      } finally {
        f.free();
        p.free();
        out.free();
        scratch.free();
      }
      return result;
    },
    dispose() {
      if (freed) return;
      freed = true;
      for (const b of [feat, prob]) {
        b.packed.free();
        b.sqNorms.free();
      }
    },
  };
}

/** Whether the relation kernel takes this power (integers 1..1024; others use the tfjs path). */
export function relationKernelPower(power: number): boolean {
  return Number.isInteger(power) && power >= 1 && power <= 1024;
}
