import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';

/*
 * tfjs-backend-wasm ships a multi-threaded (pthreads) build but cannot start it under Node: it hands
 * Emscripten a blob: URL for the worker script and a Blob for the main script, and Node's Worker
 * accepts neither. Emscripten's own glue supports Node (worker_threads) when given file paths, so we
 * instantiate the threaded module ourselves: the worker source (shipped as a JS string) is written
 * once to a content-addressed .cjs file in the OS temp folder, the main script is the packaged file.
 *
 * We want the build for its shared memory, on which oodkit's kernel pool runs (simd.ts); XNNPACK
 * itself gets one thread (docs/decisions.md, "Kernel worker pool").
 */

interface EmscriptenModule {
  cwrap: (name: string, ret: string | null, args: string[]) => unknown;
  tfjs?: Record<string, unknown>;
}

function workerFile(source: string): string {
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'oodkit-wasm');
  const file = path.join(dir, `tfjs-wasm-threaded-worker-${hash}.cjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, source);
    renameSync(tmp, file);
  }
  return file;
}

/** Instantiates the threaded-SIMD wasm module (shared memory) with one XNNPACK thread. */
async function instantiateThreaded(): Promise<BackendWasm> {
  const require = createRequire(import.meta.url);
  const outDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'));
  const mainScript = path.join(outDir, 'tfjs-backend-wasm-threaded-simd.js');
  const factory = require(mainScript) as (config: object) => Promise<EmscriptenModule>;
  const { wasmWorkerContents } = require(path.join(outDir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  // tfjs escapes newlines the same way before building its Blob (they sit inside string literals).
  const worker = workerFile(wasmWorkerContents.replace(/\n/g, '\\n'));
  const module = await factory({
    locateFile: (file: string, prefix: string) =>
      file.endsWith('.worker.js')
        ? worker
        : file.endsWith('.wasm')
          ? path.join(outDir, 'tfjs-backend-wasm-threaded-simd.wasm')
          : prefix + file,
    mainScriptUrlOrBlob: mainScript,
  });
  // The same bridge tfjs-backend-wasm's init() builds.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  setThreadsCount(1);
  const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
  // Any pthread runs for the life of the process; Emscripten ref()s the worker of every running
  // pthread, which would keep Node alive after main() returns. They wait on futexes while idle, so
  // letting the event loop ignore them is safe: Node ends them at exit.
  for (const w of (module as unknown as { PThread: { runningWorkers: { unref(): void }[] } }).PThread.runningWorkers) w.unref();
  return backend;
}

/**
 * Re-registers the 'wasm' backend so that it starts the threaded build (kernels registered for
 * 'wasm', ours included, stay). Must run before the wasm backend is first initialised.
 */
export function useThreadedWasm(): void {
  if (tf.findBackendFactory('wasm')) tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => instantiateThreaded(), 2);
}
