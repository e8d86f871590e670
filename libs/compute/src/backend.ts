import { createRequire } from 'node:module';
import path from 'node:path';
import { OodkitError, didYouMean, silentLogger, type Logger } from '@oodkit/core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { tf } from './tf.js';
import { registerWasmTrainingKernels } from './wasm/register.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
/** Environment variable that overrides the configured backend (see docs/decisions.md). */
export const BACKEND_ENV = 'OODKIT_BACKEND';

export interface ComputeOptions {
  /** Config `compute.backend`: a backend name, or 'auto' (default) for tensorflow → wasm → cpu. */
  backend?: BackendName | 'auto';
  /** Where the chosen backend and the reason are reported (once per change). */
  logger?: Logger;
  /** Environment to read OODKIT_BACKEND from (default process.env); tests pass their own. */
  env?: Record<string, string | undefined>;
}

export interface ComputeInfo {
  backend: BackendName;
  /** Why this backend: what was asked for, and what was unavailable on the way. */
  reason: string;
}

/** Native TensorFlow bindings, in the order tried; both register the backend name 'tensorflow'. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let current: ComputeInfo | undefined;
let wasmPrepared = false;

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
  const source = fromEnv ? `${BACKEND_ENV}=${fromEnv}` : options.backend && options.backend !== 'auto' ? `compute.backend=${options.backend}` : undefined;

  let info: ComputeInfo;
  if (requested === 'auto') {
    info = await resolveAuto();
  } else {
    const failure = await tryBackend(requested);
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
  if (!current || current.backend !== info.backend || current.reason !== info.reason) {
    logger.info(`compute backend: ${info.backend} (${info.reason})`);
  }
  current = info;
  return info;
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

async function resolveAuto(): Promise<ComputeInfo> {
  const skipped: string[] = [];
  for (const name of BACKEND_NAMES) {
    const failure = await tryBackend(name);
    if (!failure) {
      const why = name === 'tensorflow' ? 'native TensorFlow found' : `auto${skipped.length ? `; ${skipped.join('; ')}` : ''}`;
      return { backend: name, reason: why };
    }
    skipped.push(`${name} unavailable: ${failure}`);
  }
  throw new OodkitError(`no compute backend could start: ${skipped.join('; ')}`);
}

/** Makes `name` the active backend; returns why it cannot be used, or undefined on success. */
async function tryBackend(name: BackendName): Promise<string | undefined> {
  try {
    if (name === 'tensorflow') {
      const missing = await loadNative();
      if (missing) return missing;
    } else if (name === 'wasm') {
      prepareWasm();
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
  wasmPrepared = true;
}

/**
 * The cpu backend prints "install our node backend" on first use; oodkit reports its own choice
 * (with the reason) instead, so the banner is switched off on that backend instance only.
 */
function silenceNodeBanner(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu && cpu.firstUse) cpu.firstUse = false;
}
