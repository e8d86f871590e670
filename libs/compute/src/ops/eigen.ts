import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { simdKernels } from '../wasm/simd.js';

interface EmscriptenHeap {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

/**
 * Symmetric eigendecomposition in float64 on the wasm backend's heap (csrc/eigen.c: Householder
 * tridiagonalisation + implicit QL, f64x2 inner loops, one thread). `matrix` is row-major [n, n]
 * and symmetric (only its upper triangle is read). Eigenvalues ascending; `vectors[i·n + k]` is
 * component i of eigenvector k. Undefined when the active backend is not wasm.
 */
export function wasmSymmetricEigen(matrix: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  if (matrix.length !== n * n) throw new RangeError(`wasmSymmetricEigen: expected ${n}×${n} values, got ${matrix.length}`);
  const backend = tf.backend() as BackendWasm;
  const heap = backend.wasm as unknown as EmscriptenHeap;
  const bytes = 8 * (n * n + 2 * n);
  const raw = heap._malloc(bytes + 16) >>> 0;
  if (!raw) throw new Error(`oodkit eigen: out of wasm memory allocating ${bytes} bytes`);
  try {
    const w = raw + ((16 - (raw % 16)) % 16);
    const d = w + 8 * n * n;
    const e = d + 8 * n;
    new Float64Array(heap.HEAPU8.buffer, w, n * n).set(matrix);
    if (simdKernels(backend).symmetric_eigen_f64(w, d, e, n) !== 0) throw new Error('symmetricEigen: QL iteration did not converge');
    // The heap may have grown (new buffer) only before the call; views are taken after it.
    const rows = new Float64Array(heap.HEAPU8.buffer, w, n * n);
    const values = new Float64Array(heap.HEAPU8.buffer, d, n).slice();
    const vectors = new Float64Array(n * n);
    for (let k = 0; k < n; k++) {
      const o = k * n;
      for (let i = 0; i < n; i++) vectors[i * n + k] = rows[o + i];
    }
    return { values, vectors };
  } finally {
    heap._free(raw);
  }
}
