import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { kernelThreads, runShares } from '../wasm/simd.js';

interface EmscriptenHeap {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

/**
 * A float64 Gram accumulator acc += Σ_r x_rᵀ·x_r on the wasm backend's heap (csrc/gram.c, threads of
 * the kernel pool): fill `rows()` with up to `blockRows` rows of `dimP` values (dimP a multiple of
 * 4, padding columns zero), then `add(count)`. Only the upper triangle of 4×4 tiles is accumulated.
 * The block is packed in panels of 4 features: value (r, j) lives at `gramPanelIndex(blockRows, r, j)`.
 */
export interface GramAccumulator {
  readonly dimP: number;
  readonly blockRows: number;
  /** The row block [blockRows, dimP] (a fresh view each call: the heap may have grown). */
  rows(): Float64Array;
  add(count: number): void;
  /** A copy of the accumulated [dimP, dimP] matrix (upper tiles valid). */
  read(): Float64Array;
  dispose(): void;
}

/** Where row r, feature j of a Gram block with `blockRows` rows sits (panels of 4 features, row after row). */
export function gramPanelIndex(blockRows: number, r: number, j: number): number {
  return (j >> 2) * 4 * blockRows + 4 * r + (j & 3);
}

/** The wasm Gram accumulator, or undefined when the active backend is not wasm. */
export function wasmGramAccumulator(dimP: number, blockRows: number): GramAccumulator | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  if (dimP % 4 !== 0) throw new RangeError(`wasmGramAccumulator: dimP = ${dimP} must be a multiple of 4`);
  const backend = tf.backend() as BackendWasm;
  const heap = backend.wasm as unknown as EmscriptenHeap;
  const accBytes = 8 * dimP * dimP;
  const rowBytes = 8 * blockRows * dimP;
  // >>> 0: malloc's i32 result is negative above 2 GiB.
  const raw = heap._malloc(accBytes + rowBytes + 16) >>> 0;
  if (!raw) throw new Error(`oodkit gram: out of wasm memory allocating ${accBytes + rowBytes} bytes`);
  const acc = raw + ((16 - (raw % 16)) % 16);
  const block = acc + accBytes;
  new Float64Array(heap.HEAPU8.buffer, acc, dimP * dimP).fill(0);
  const tiles = dimP / 4;
  // Tile row t costs (tiles − t) tiles: cut the rows where the cumulative cost crosses p/parts.
  const parts = Math.max(1, Math.min(kernelThreads(backend), tiles));
  const cuts = [0];
  const total = (tiles * (tiles + 1)) / 2;
  let done = 0;
  for (let t = 0; t < tiles && cuts.length < parts; t++) {
    done += tiles - t;
    if (done >= (cuts.length * total) / parts) cuts.push(t + 1);
  }
  cuts.push(tiles);
  let freed = false;
  return {
    dimP,
    blockRows,
    rows: () => new Float64Array(heap.HEAPU8.buffer, block, blockRows * dimP),
    add(count: number) {
      if (count < 0 || count > blockRows) throw new RangeError(`GramAccumulator.add: count ${count} not in [0, ${blockRows}]`);
      if (count === 0) return;
      const shares: number[][] = [];
      for (let p = 0; p + 1 < cuts.length; p++)
        if (cuts[p]! < cuts[p + 1]!) shares.push([block, count, blockRows, dimP, acc, cuts[p]!, cuts[p + 1]!]);
      runShares(backend, 'gram_f64', shares);
    },
    read: () => new Float64Array(heap.HEAPU8.buffer, acc, dimP * dimP).slice(),
    dispose() {
      if (!freed) heap._free(raw);
      freed = true;
    },
  };
}
