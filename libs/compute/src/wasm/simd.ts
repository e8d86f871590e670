import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { tf } from '../tf.js';
import { KernelPool, LATE_WORKERS_ENV } from './kernel-pool.js';
import type { Col2imKernels } from './signatures/col2im.js';
import type { ColumnStatsKernels } from './signatures/column_stats.js';
import type { ConvFilterGradKernels } from './signatures/conv_filter_grad.js';
import type { ConvForwardKernels } from './signatures/conv_forward.js';
import type { EigenKernels } from './signatures/eigen.js';
import type { GramKernels } from './signatures/gram.js';
import type { MatmulKernels } from './signatures/matmul.js';
import type { MaxPoolGradKernels } from './signatures/max_pool_grad.js';
import type { NeighborsKernels } from './signatures/neighbors.js';
import type { PadKernels } from './signatures/pad.js';
import type { WinogradF2Kernels } from './signatures/winograd_f2.js';
import type { WinogradF4Kernels } from './signatures/winograd_f4.js';
import type { WinogradS2Kernels } from './signatures/winograd_s2.js';

/**
 * oodkit's SIMD kernels (libs/compute/csrc/*.c; one signatures file per C file in ./signatures/),
 * instantiated on the wasm backend's own memory so they read and write tensors in place.
 */
export interface SimdKernels
  extends
    Col2imKernels,
    ColumnStatsKernels,
    ConvFilterGradKernels,
    ConvForwardKernels,
    EigenKernels,
    GramKernels,
    MatmulKernels,
    MaxPoolGradKernels,
    NeighborsKernels,
    PadKernels,
    WinogradF2Kernels,
    WinogradF4Kernels,
    WinogradS2Kernels {}

/** Scratch bytes the per-channel kernels need for c channels (48 · lcm(c, 4); see csrc/column_stats.c). */
export function channelScratchBytes(c: number): number {
  const period = c % 4 === 0 ? c : c % 2 === 0 ? 2 * c : 4 * c;
  return 48 * period;
}

/** The part of the WebAssembly JS API used here (the project's TS libs do not include DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: { new (bytes: Uint8Array): object; exports(module: object): { name: string }[] };
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface EmscriptenHeap {
  asm?: { memory?: WasmMemory };
  wasmMemory?: WasmMemory;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

interface Bound {
  kernels: SimdKernels;
  module: object;
  memory: WasmMemory;
  shared: boolean;
  pool?: KernelPool;
}

const bound = new WeakMap<object, Bound>();

function backendMemory(backend: BackendWasm): WasmMemory {
  const module = backend.wasm as unknown as EmscriptenHeap;
  // The single-threaded builds export their memory; the threaded build creates a shared one in JS.
  const memory = module.asm?.memory ?? module.wasmMemory;
  if (!(memory instanceof WA.Memory)) {
    throw new Error("oodkit SIMD kernels: cannot find the wasm backend's memory (unexpected tfjs-backend-wasm build)");
  }
  return memory;
}

/**
 * Compiles the kernels straight to V8's optimizing tier (TurboFan). Under V8's default dynamic
 * tiering a function starts on the baseline compiler (Liftoff) and is recompiled once it has run
 * enough, but in the threaded build (module shared with the pool's workers) our kernels were never
 * tiered up: the same matmul took 0.17 ms there and 0.044 ms single-threaded or with --no-liftoff.
 * The module is ~40 KB, so compiling it optimized up front costs milliseconds.
 */
function compileOptimized(bytes: Uint8Array): object {
  // Eager too: with lazy compilation a function is compiled at its first call, by whatever tier the
  // flags name by then.
  v8.setFlagsFromString('--no-liftoff');
  v8.setFlagsFromString('--no-wasm-lazy-compilation');
  try {
    return new WA.Module(bytes);
  } finally {
    v8.setFlagsFromString('--wasm-lazy-compilation');
    v8.setFlagsFromString('--liftoff');
  }
}

function bind(backend: BackendWasm): Bound {
  const known = bound.get(backend);
  if (known) return known;
  const memory = backendMemory(backend);
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const file = new URL(`../../assets/${shared ? 'oodkit-kernels-shared.wasm' : 'oodkit-kernels.wasm'}`, import.meta.url);
  const module = compileOptimized(readFileSync(file));
  const instance = new WA.Instance(module, { env: { memory } });
  const entry: Bound = { kernels: instance.exports as unknown as SimdKernels, module, memory, shared };
  bound.set(backend, entry);
  return entry;
}

/** The kernels bound to this backend's memory (compiled and instantiated once per backend). */
export function simdKernels(backend: BackendWasm): SimdKernels {
  return bind(backend).kernels;
}

/**
 * Starts `workers` extra threads for the kernels (threaded build only: they need the shared
 * memory). Idempotent per backend.
 */
export async function startKernelPool(backend: BackendWasm, workers: number): Promise<void> {
  const entry = bind(backend);
  if (entry.pool || workers < 1 || !entry.shared) return;
  const names = WA.Module.exports(entry.module).map((e) => e.name);
  const lateMs = Number(process.env[LATE_WORKERS_ENV] ?? 0);
  entry.pool = await KernelPool.start(entry.module, entry.memory, names, workers, Number.isFinite(lateMs) && lateMs > 0 ? lateMs : 0);
}

/** Threads a kernel call on this backend can use (1 without a pool). */
export function kernelThreads(backend: BackendWasm): number {
  return bind(backend).pool?.size ?? 1;
}

/**
 * Runs kernel `name` once per argument list, in parallel when the backend has a pool (the lists
 * must touch disjoint outputs), else one after another on this thread. How the work is split must
 * not depend on the pool size wherever it changes the arithmetic (partial sums).
 */
export function runShares(backend: BackendWasm, name: keyof SimdKernels, shares: number[][]): void {
  const entry = bind(backend);
  const call = entry.kernels[name] as unknown as (...args: number[]) => void;
  const pool = entry.pool;
  if (pool && shares.length > 1) {
    // More shares than threads (a fixed partition, e.g. WINOGRAD_PARTIALS) run in rounds.
    for (let i = 0; i < shares.length; i += pool.size) pool.run(call, name, shares.slice(i, i + pool.size));
  } else for (const share of shares) call(...share);
}

/** Heap offset of a tensor's data. */
export function heapOffset(backend: BackendWasm, info: tf.TensorInfo): number {
  const data = (backend as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } | undefined } }).dataIdMap.get(info.dataId);
  if (!data) throw new Error('oodkit SIMD kernels: tensor data is not on the wasm backend');
  return data.memoryOffset;
}

/** Runs `body` with `bytes` of scratch heap (16-byte aligned), freed afterwards (no allocation for 0). */
export function withScratch<T>(backend: BackendWasm, bytes: number, body: (ptr: number) => T): T {
  if (bytes <= 0) return body(0);
  const module = backend.wasm as unknown as EmscriptenHeap;
  // >>> 0: malloc's i32 result is negative above 2 GiB (JS bit operators are signed, so no & ~15 either).
  const raw = module._malloc(bytes + 16) >>> 0;
  if (!raw) throw new Error(`oodkit SIMD kernels: out of wasm memory allocating ${bytes} bytes of scratch`);
  try {
    return body(raw + ((16 - (raw % 16)) % 16));
  } finally {
    module._free(raw);
  }
}

/** A Float32Array over `length` floats of heap at byte offset `ptr` (valid until the heap grows). */
export function heapFloats(backend: BackendWasm, ptr: number, length: number): Float32Array {
  return new Float32Array((backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer, ptr, length);
}
