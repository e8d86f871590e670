import { OodkitError, createLogger } from '@oodkit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND_ENV, THREADS_ENV, computeOptionsFrom, initCompute, tf } from '../src/index.js';

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger('info', 'compute', (l) => lines.push(l)) };
}

let nativeInstalled = true;
try {
  await import('@tensorflow/tfjs-node-gpu' as string);
} catch {
  nativeInstalled = false;
}

afterAll(async () => {
  await initCompute({ backend: 'cpu', env: {} });
});

describe('initCompute backend resolution', () => {
  it('auto picks native tensorflow if installed, else wasm, and says why', async () => {
    const { lines, logger } = capture();
    const info = await initCompute({ env: {}, logger });
    expect(info.backend).toBe(nativeInstalled ? 'tensorflow' : 'wasm');
    expect(tf.getBackend()).toBe(info.backend);
    if (!nativeInstalled) expect(info.reason).toMatch(/tensorflow unavailable: @tensorflow\/tfjs-node-gpu not installed/);
    const threads = info.backend === 'wasm' ? `, ${info.threads} thread${info.threads === 1 ? '' : 's'}` : '';
    expect(lines).toEqual([`[info] compute: compute backend: ${info.backend}${threads} (${info.reason})`]);
  });

  it('logs the choice once: a repeated call with the same outcome is silent', async () => {
    const { lines, logger } = capture();
    await initCompute({ backend: 'wasm', env: {}, logger });
    await initCompute({ backend: 'wasm', env: {}, logger });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/compute backend: wasm, \d threads? \(requested by compute.backend=wasm\)/);
  });

  it('config compute.backend selects a backend', async () => {
    const info = await initCompute({ backend: 'cpu', env: {} });
    expect(info).toEqual({ backend: 'cpu', reason: 'requested by compute.backend=cpu', threads: 1, linalg: 'auto' });
    expect(tf.getBackend()).toBe('cpu');
  });

  it(`env ${BACKEND_ENV} wins over the config`, async () => {
    const info = await initCompute({ backend: 'cpu', env: { [BACKEND_ENV]: 'wasm' } });
    expect(info.backend).toBe('wasm');
    expect(info.reason).toBe(`requested by ${BACKEND_ENV}=wasm`);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('an unknown compute.conv_algorithms value is an OodkitError naming the key and suggesting a fix', async () => {
    await expect(initCompute({ backend: 'cpu', env: {}, convAlgorithms: 'acurate' as 'accurate' })).rejects.toThrow(
      /compute.conv_algorithms: unknown value 'acurate' \(did you mean 'accurate'\?\); expected one of fastest, accurate/,
    );
  });

  it('computeOptionsFrom reads a config compute section', () => {
    expect(computeOptionsFrom(undefined)).toEqual({ backend: 'auto' });
    expect(computeOptionsFrom({ backend: 'wasm', conv_algorithms: 'accurate' })).toEqual({ backend: 'wasm', convAlgorithms: 'accurate' });
  });

  it('an unknown backend name is an OodkitError naming the key and suggesting a fix', async () => {
    await expect(initCompute({ env: { [BACKEND_ENV]: 'wsam' } })).rejects.toThrow(
      /OODKIT_BACKEND: unknown compute backend 'wsam' \(did you mean 'wasm'\?\)/,
    );
    await expect(initCompute({ backend: 'gpu' as 'cpu', env: {} })).rejects.toBeInstanceOf(OodkitError);
  });

  it.skipIf(nativeInstalled)('asking for tensorflow without the native package is a clear error', async () => {
    const error = await initCompute({ backend: 'tensorflow', env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OodkitError);
    expect((error as Error).message).toMatch(
      /compute backend 'tensorflow' \(from compute.backend=tensorflow\) is not available: .*not installed.*Install @tensorflow\/tfjs-node-gpu/,
    );
  });

  it('wasm runs the threaded build with the requested thread count (fixed at first start)', async () => {
    // This file's first wasm start asked for 'auto' = every core (≥ 1); with 2+ cores that must be
    // the threaded build, proving it starts under Node.
    const info = await initCompute({ backend: 'wasm', env: {} });
    expect(info.threads).toBe(Math.min(8, os.availableParallelism()));
    expect(info.reason).not.toMatch(/could not start/);
  });

  it('a process that used the threaded wasm build exits by itself', () => {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'exit-after-wasm.ts');
    // From the repository root, so tsx applies the root tsconfig (experimentalDecorators) to every lib
    // the fixture imports, also when the test runs from this project's folder (nx run-many -t test).
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, encoding: 'utf8', timeout: 90_000 });
    expect(child.error).toBeUndefined(); // a timeout (hung pool threads) shows up here
    expect(child.status).toBe(0);
    expect(child.stdout).toContain('threads=2');
  }, 120_000);

  it('bad thread counts are OodkitErrors naming the variable', async () => {
    await expect(initCompute({ backend: 'wasm', env: { [THREADS_ENV]: '0' } })).rejects.toThrow(/OODKIT_WASM_THREADS.*1\.\.8, got '0'/);
    await expect(initCompute({ backend: 'wasm', threads: 2.5, env: {} })).rejects.toBeInstanceOf(OodkitError);
  });

  it('wasm has the training kernels registered', async () => {
    await initCompute({ backend: 'wasm', env: {} });
    const names = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    for (const k of [
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'UnsortedSegmentSum',
    ]) {
      expect(names.has(k), k).toBe(true);
    }
  });
});
