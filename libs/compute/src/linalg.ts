import os from 'node:os';
import { LINALG_ROUTES, OodkitError, didYouMean, silentLogger, type Logger } from '@oodkit/core';
import { OnnxLinalg } from './onnx/linalg.js';
import { loadOnnxRuntime } from './onnx/runtime.js';

/**
 * Where the dense feature-space products of vim, residual and nnguide run (second moments, residual
 * norms, guide-bank similarities): 'onnxruntime' (its MLAS kernels), 'backend' (the tfjs backend and
 * oodkit's wasm kernels: the same bits on every machine), or 'auto' (onnxruntime when it loads).
 */
export type LinalgMode = (typeof LINALG_ROUTES)[number];
/** The values of `compute.linalg` (the config schema's list). */
export const LINALG_MODES: readonly LinalgMode[] = LINALG_ROUTES;
/** Environment variable that overrides the configured `compute.linalg`. */
export const LINALG_ENV = 'OODKIT_LINALG';

let mode: LinalgMode = 'auto';
let threads = Math.min(8, os.availableParallelism());
let logger: Logger = silentLogger;
let resolved: Promise<OnnxLinalg | undefined> | undefined;

/** Validates a `compute.linalg` / OODKIT_LINALG value (`key` names where it came from). */
export function parseLinalgMode(value: string, key: string): LinalgMode {
  if ((LINALG_MODES as readonly string[]).includes(value)) return value as LinalgMode;
  throw new OodkitError(
    `${key}: unknown linalg route '${value}'${didYouMean(value, [...LINALG_MODES])}; expected one of ${LINALG_MODES.join(', ')}`,
  );
}

/**
 * Sets the route (called by initCompute). An explicit 'onnxruntime' is loaded now and is an error if
 * it cannot start; 'auto' loads it on first use and falls back to the backend, saying why.
 */
export async function configureLinalg(next: LinalgMode, nextThreads: number, nextLogger: Logger = silentLogger): Promise<void> {
  logger = nextLogger;
  if (next !== mode || nextThreads !== threads) {
    const previous = resolved;
    resolved = undefined;
    mode = next;
    threads = nextThreads;
    await (await previous?.catch(() => undefined))?.release();
  }
  if (mode === 'onnxruntime') {
    const linalg = await denseLinalg().catch((error: unknown) => {
      resolved = undefined;
      throw new OodkitError(
        `compute.linalg 'onnxruntime' is not available: onnxruntime-node failed to load (${(error as Error).message.split('\n')[0]}); choose auto or backend`,
      );
    });
    if (!linalg) throw new OodkitError(`compute.linalg 'onnxruntime' is not available`);
  }
}

/** The current route's requested mode and thread count. */
export function linalgSettings(): { mode: LinalgMode; threads: number } {
  return { mode, threads };
}

/** onnxruntime's products, or undefined where the route is the tfjs backend. */
export function denseLinalg(): Promise<OnnxLinalg | undefined> {
  if (mode === 'backend') return Promise.resolve(undefined);
  resolved ??= loadOnnxRuntime()
    .then((ort) => new OnnxLinalg(ort, threads).start())
    .then(
      (linalg) => {
        logger.info(`dense feature products: onnxruntime, ${threads} thread${threads === 1 ? '' : 's'} (compute.linalg ${mode})`);
        return linalg;
      },
      (error: unknown) => {
        if (mode === 'onnxruntime') throw error;
        logger.info(
          `dense feature products: the tensor backend (onnxruntime-node unavailable: ${(error as Error).message.split('\n')[0]})`,
        );
        return undefined;
      },
    );
  return resolved;
}
