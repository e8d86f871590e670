import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { OodkitError, didYouMean, silentLogger, type Logger } from '@oodkit/core';
import { setWasmPaths, type BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from './tf.js';
import { LINALG_ENV, configureLinalg, parseLinalgMode, type LinalgMode } from './linalg.js';
import { CONV_ALGORITHM_NAMES, setConvAlgorithms, type ConvAlgorithms } from './wasm/conv2d/route.js';
import { registerWasmTrainingKernels } from './wasm/register.js';
import { kernelThreads, startKernelPool } from './wasm/simd.js';
import { useThreadedWasm } from './wasm/threaded.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
/** Environment variable that overrides the configured backend (see docs/decisions.md). */
export const BACKEND_ENV = 'OODKIT_BACKEND';
/** Environment variable that overrides `threads` for the wasm backend. */
export const THREADS_ENV = 'OODKIT_WASM_THREADS';

export interface ComputeOptions {
  /** Config `compute.backend`: a backend name, or 'auto' (default) for tensorflow → wasm → cpu. */
  backend?: BackendName | 'auto';
  /** Where the chosen backend and the reason are reported (once per change). */
  logger?: Logger;
  /**
   * XNNPACK threads of the wasm backend: a count, or 'auto' (default: every core the OS grants).
   * Fixed when the wasm backend first starts in a process. OODKIT_WASM_THREADS overrides it.
   */
  threads?: number | 'auto';
  /**
   * Config `compute.conv_algorithms`: what the wasm backend's per-layer convolution choice may use,
   * 'fastest' (default) or 'accurate' (see ConvAlgorithms). Applies from this call on.
   */
  convAlgorithms?: ConvAlgorithms;
  /**
   * Config `compute.linalg`: where the dense feature-space products of vim, residual and nnguide run —
   * 'auto' (default: onnxruntime when it loads), 'onnxruntime', or 'backend'. OODKIT_LINALG overrides
   * it. onnxruntime runs with the same thread count as the wasm backend.
   */
  linalg?: LinalgMode;
  /** Environment to read OODKIT_BACKEND / OODKIT_WASM_THREADS / OODKIT_LINALG from (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface ComputeInfo {
  backend: BackendName;
  /** Why this backend: what was asked for, and what was unavailable on the way. */
  reason: string;
  /** Threads the backend computes with (wasm: XNNPACK pool size; cpu: 1; tensorflow: its own pool → 0 = unknown). */
  threads: number;
  /** The requested route of the dense feature-space products (see ComputeOptions.linalg). */
  linalg: LinalgMode;
}

/** Native TensorFlow bindings, in the order tried; both register the backend name 'tensorflow'. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let current: ComputeInfo | undefined;
let wasmPrepared = false;
let singleThreadedWasmFactory: ReturnType<typeof tf.findBackendFactory> | undefined;
let wasmNote = '';

/**
 * Selects and initialises the TensorFlow.js backend every oodkit library computes on.
 *
 * Choice: env `OODKIT_BACKEND` if set, else `options.backend`, else 'auto'. 'auto' tries the native
 * `tensorflow` backend (present when @tensorflow/tfjs-node-gpu or -node is installed), then `wasm`
 * with oodkit's training kernels, then the pure-JS `cpu` backend. An explicitly requested backend that
 * cannot start is an OodkitError, never a silent fallback. Calling again with the same choice is cheap.
 */
export async function initCompute(options: ComputeOptions = {}): Promise<ComputeInfo> {
  const logger = options.logger ?? silentLogger;
  const env = options.env ?? process.env;
  const fromEnv = env[BACKEND_ENV]?.trim();
  const requested = parseBackend(fromEnv || options.backend || 'auto', fromEnv ? BACKEND_ENV : 'compute.backend');
  const source = fromEnv
    ? `${BACKEND_ENV}=${fromEnv}`
    : options.backend && options.backend !== 'auto'
      ? `compute.backend=${options.backend}`
      : undefined;
  const threads = parseThreads(env[THREADS_ENV]?.trim() || options.threads || 'auto');
  if (options.convAlgorithms !== undefined) {
    if (!(CONV_ALGORITHM_NAMES as readonly string[]).includes(options.convAlgorithms)) {
      throw new OodkitError(
        `compute.conv_algorithms: unknown value '${options.convAlgorithms}'${didYouMean(options.convAlgorithms, [...CONV_ALGORITHM_NAMES])}; expected one of ${CONV_ALGORITHM_NAMES.join(', ')}`,
      );
    }
    setConvAlgorithms(options.convAlgorithms);
  }
  const linalgFromEnv = env[LINALG_ENV]?.trim();
  const linalg = parseLinalgMode(linalgFromEnv || options.linalg || 'auto', linalgFromEnv ? LINALG_ENV : 'compute.linalg');

  let info: Omit<ComputeInfo, 'threads' | 'linalg'>;
  if (requested === 'auto') {
    info = await resolveAuto(threads);
  } else {
    const failure = await tryBackend(requested, threads);
    if (failure) {
      throw new OodkitError(
        `compute backend '${requested}' (from ${source}) is not available: ${failure}` +
          (requested === 'tensorflow'
            ? '. Install @tensorflow/tfjs-node-gpu (see the README, "GPU / native backend"), or choose wasm or cpu'
            : ''),
      );
    }
    info = { backend: requested, reason: `requested by ${source}` };
  }
  const full: ComputeInfo = {
    ...info,
    reason: info.backend === 'wasm' && wasmNote ? `${info.reason}; ${wasmNote}` : info.reason,
    threads: info.backend === 'wasm' ? kernelThreads(tf.backend() as BackendWasm) : info.backend === 'cpu' ? 1 : 0,
    linalg,
  };
  if (!current || current.backend !== full.backend || current.reason !== full.reason) {
    const t = full.backend === 'wasm' ? `, ${full.threads} thread${full.threads === 1 ? '' : 's'}` : '';
    logger.info(`compute backend: ${full.backend}${t} (${full.reason})`);
  }
  current = full;
  await configureLinalg(linalg, full.backend === 'wasm' ? full.threads : threads, logger);
  return full;
}

/** initCompute options from a run config's `compute` section (core's computeConfigSchema). */
export function computeOptionsFrom(section: unknown): Pick<ComputeOptions, 'backend' | 'convAlgorithms' | 'linalg'> {
  const s = (section ?? {}) as { backend?: BackendName | 'auto'; conv_algorithms?: ConvAlgorithms; linalg?: LinalgMode };
  return {
    backend: s.backend ?? 'auto',
    ...(s.conv_algorithms ? { convAlgorithms: s.conv_algorithms } : {}),
    ...(s.linalg ? { linalg: s.linalg } : {}),
  };
}

function parseThreads(value: string | number): number {
  if (value === 'auto') return Math.min(8, os.availableParallelism());
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new OodkitError(`${THREADS_ENV} / compute threads: expected 'auto' or an integer 1..8, got '${value}'`);
  }
  return n;
}

/** The backend chosen by the last initCompute call, if any. */
export function computeInfo(): ComputeInfo | undefined {
  return current;
}

function parseBackend(value: string, key: string): BackendName | 'auto' {
  if (value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName | 'auto';
  throw new OodkitError(
    `${key}: unknown compute backend '${value}'${didYouMean(value, [...BACKEND_NAMES, 'auto'])}; expected one of auto, ${BACKEND_NAMES.join(', ')}`,
  );
}

async function resolveAuto(threads: number): Promise<Omit<ComputeInfo, 'threads' | 'linalg'>> {
  const skipped: string[] = [];
  for (const name of BACKEND_NAMES) {
    const failure = await tryBackend(name, threads);
    if (!failure) {
      const why = name === 'tensorflow' ? 'native TensorFlow found' : `auto${skipped.length ? `; ${skipped.join('; ')}` : ''}`;
      return { backend: name, reason: why };
    }
    skipped.push(`${name} unavailable: ${failure}`);
  }
  throw new OodkitError(`no compute backend could start: ${skipped.join('; ')}`);
}

/**
 * Emscripten's wasm glue installs process-wide 'uncaughtException'/'unhandledRejection' handlers that
 * rethrow from inside its minified one-line bundle, so any later crash of oodkit printed ~50 KB of
 * that bundle instead of the error. Handlers added while a backend starts are removed again.
 */
async function withoutEmscriptenHandlers<T>(start: () => Promise<T>): Promise<T> {
  const before = {
    exception: new Set(process.listeners('uncaughtException')),
    rejection: new Set(process.listeners('unhandledRejection')),
  };
  try {
    return await start();
  } finally {
    for (const listener of process.listeners('uncaughtException'))
      if (!before.exception.has(listener)) process.removeListener('uncaughtException', listener);
    for (const listener of process.listeners('unhandledRejection'))
      if (!before.rejection.has(listener)) process.removeListener('unhandledRejection', listener);
  }
}

/** Makes `name` the active backend; returns why it cannot be used, or undefined on success. */
async function tryBackend(name: BackendName, threads: number): Promise<string | undefined> {
  return withoutEmscriptenHandlers(() => startBackend(name, threads));
}

async function startBackend(name: BackendName, threads: number): Promise<string | undefined> {
  try {
    if (name === 'tensorflow') {
      const missing = await loadNative();
      if (missing) return missing;
    } else if (name === 'wasm') {
      prepareWasm();
      // (not findBackend: that would start initialising the single-threaded module as a side effect)
      if (!('wasm' in tf.engine().registry) && threads > 1) return await startThreadedWasm(threads);
    }
    if (tf.getBackend() !== name || !tf.findBackend(name)) {
      const ok = await tf.setBackend(name);
      if (!ok) return `tfjs could not initialise the '${name}' backend`;
    }
    await tf.ready();
    silenceNodeBanner();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function loadNative(): Promise<string | undefined> {
  if (tf.findBackendFactory('tensorflow')) return undefined;
  const reasons: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      await import(pkg);
      if (tf.findBackendFactory('tensorflow')) return undefined;
      reasons.push(`${pkg} loaded but registered no 'tensorflow' backend`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      reasons.push(
        code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
          ? `${pkg} not installed`
          : `${pkg} failed to load (${(error as Error).message.split('\n')[0]})`,
      );
    }
  }
  return reasons.join(', ');
}

/** Points the wasm loader at the binaries shipped in the package (offline) and adds our kernels. */
function prepareWasm(): void {
  if (wasmPrepared) return;
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  setWasmPaths(`${dist}${path.sep}`);
  registerWasmTrainingKernels();
  singleThreadedWasmFactory = tf.findBackendFactory('wasm');
  wasmPrepared = true;
}

/** Starts the threaded wasm build; if it cannot start, the single-threaded one (and says why). */
async function startThreadedWasm(threads: number): Promise<string | undefined> {
  // XNNPACK runs on the calling thread only: its pool's dispatch made LeNet-sized and element-wise
  // ops slower (an Add went from 0.2 to 2.6 ms per LeNet step), and oodkit's conv kernels, which
  // carry the heavy work, use all `threads` through their own pool (docs/decisions.md).
  useThreadedWasm();
  let failure: string | undefined;
  try {
    if (!(await tf.setBackend('wasm'))) failure = 'initialisation failed';
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  if (!failure) {
    await tf.ready();
    silenceNodeBanner();
    await startKernelPool(tf.backend() as BackendWasm, threads - 1);
    wasmNote = '';
    return undefined;
  }
  tf.removeBackend('wasm');
  if (singleThreadedWasmFactory) tf.registerBackend('wasm', singleThreadedWasmFactory, 2);
  wasmNote = `threaded wasm build could not start (${failure}), running single-threaded`;
  if (!(await tf.setBackend('wasm'))) return `tfjs could not initialise the 'wasm' backend`;
  await tf.ready();
  silenceNodeBanner();
  return undefined;
}

/**
 * The cpu backend prints "install our node backend" on first use; oodkit reports its own choice
 * (with the reason) instead, so the banner is switched off on that backend instance only.
 */
function silenceNodeBanner(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu && cpu.firstUse) cpu.firstUse = false;
}
