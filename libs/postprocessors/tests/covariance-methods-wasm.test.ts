import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng, silentLogger, type Postprocessor, type ScoreResult } from '@oodkit/core';
import { describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { clusteredSplit, randomLayer } from './feature-fixtures.js';
import { expectClose } from './math-fixtures.js';

/**
 * vim, mds and rmds with the wasm kernels (float64 Gram, csrc/gram.c; eigendecomposition in C,
 * csrc/eigen.c, used from D = 16) against the same methods on the cpu backend, whose JavaScript
 * routes agree with OpenOOD's formulas (feature-methods-reference.test.ts, mds.test.ts, rmds.test.ts).
 * The reference fixture is 8-dimensional, below the eigen kernel's threshold: D = 40 here.
 */
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const C = 5;
const D = 40;
const rng = Rng.fromSeed(903);
const finalLayer = randomLayer(rng.derive('layer'), C, D);
const data = {
  train: clusteredSplit(rng.derive('train'), 'train', 600, C, D, true),
  val: clusteredSplit(rng.derive('val'), 'val', 100, C, D, true),
};
const test = clusteredSplit(rng.derive('test'), 'test', 150, C, D, true);

async function scoreOn(backend: 'cpu' | 'wasm', name: string, args: Record<string, unknown>): Promise<ScoreResult> {
  const info = await initCompute({ backend, env: {} });
  expect(info.backend).toBe(backend);
  const pp = await registry.build<Postprocessor>(
    'postprocessor',
    { name, args },
    { logger: silentLogger, rng: Rng.fromSeed(0), config: {} },
  );
  try {
    await pp.setup({ finalLayer }, data);
    const features = tf.tensor2d(test.features, [test.count, D]);
    try {
      return await pp.score({ features });
    } finally {
      features.dispose();
    }
  } finally {
    pp.dispose?.();
  }
}

describe('covariance-based methods on the wasm kernels', () => {
  it.each([
    ['vim', { dim: 12 }, 2e-5],
    ['vim', { dim: 30 }, 2e-5],
    ['mds', {}, 2e-5],
    // rmds subtracts the background distance from the class distance, and both come from float32
    // expansions ‖y‖² − 2y·m + ‖m‖² whose summation order differs between the backends: 6e-5 measured.
    ['rmds', {}, 2e-4],
  ] as [string, Record<string, unknown>, number][])('%s %j agrees with the cpu backend', async (name, args, tol) => {
    const wasm = await scoreOn('wasm', name, args);
    const cpu = await scoreOn('cpu', name, args);
    // Relative to the largest score, as the bench's agreement column.
    const scale = Math.max(...cpu.conf.map(Math.abs));
    expectClose(
      Array.from(wasm.conf, (v) => v / scale),
      Array.from(cpu.conf, (v) => v / scale),
      tol,
    );
    expect(Array.from(wasm.pred)).toEqual(Array.from(cpu.pred));
    // not a constant score: the comparison has something to compare
    expect(Math.max(...cpu.conf) - Math.min(...cpu.conf)).toBeGreaterThan(1e-3 * Math.max(...cpu.conf.map(Math.abs)));
  });
});
