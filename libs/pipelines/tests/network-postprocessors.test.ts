import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Rng, createOodkitContainer, registryOf, silentLogger, type ComponentRegistry } from '@oodkit/core';
import { computeModule, initCompute } from '@oodkit/compute';
import { dataModule, loadBenchmark, resolveBenchmarkValue } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { evaluatorsModule } from '@oodkit/evaluators';
import { sioModule } from '@oodkit/sio';
import { limitBenchmark, pipelinesModule, type RunnablePipeline } from '../src/index.js';

vi.setConfig({ testTimeout: 60_000 });

/** The network methods that fit on ID inputs or load checkpoints, through test_ood on a trained LeNet. */
describe('test_ood runs the network methods (gram, adascale, nac, ensemble) from a checkpoint', () => {
  let dir: string;
  let registry: ComponentRegistry;
  let base: Record<string, unknown>;
  let checkpoint: string;
  type Result = { rows: { dataset: string; AUROC: number }[]; idAccuracy: number };

  const run = (exp: string, postprocessor: Record<string, unknown>) => {
    const config = { ...base, exp_name: exp, postprocessor, pipeline: { name: 'test_ood', args: { checkpoint, batch_size: 128 } } };
    return registry
      .build<RunnablePipeline>('pipeline', config.pipeline as never, { logger: silentLogger, rng: Rng.fromSeed(0), config }, 'pipeline')
      .then((p) => p.run()) as Promise<Result>;
  };

  beforeAll(async () => {
    await initCompute({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'oodkit-netpp-'));
    registry = registryOf(
      createOodkitContainer([
        computeModule,
        dataModule,
        networksModule,
        postprocessorsModule,
        trainersModule,
        evaluatorsModule,
        sioModule,
        pipelinesModule,
      ]),
    );
    const raw = (await resolveBenchmarkValue('mnist')) as Record<string, unknown>;
    const full = await loadBenchmark(raw, registry, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
    const benchmark = limitBenchmark(raw, full, { train: 256, val: 64, test: 128, ood: 64 });
    base = { benchmark, seed: 0, output_dir: dir, network: { name: 'lenet', args: { num_classes: 10, in_channels: 1 } } };
    const config = {
      ...base,
      exp_name: 'trained',
      trainer: { name: 'base' },
      train: { epochs: 1, batch_size: 64, val_batch_size: 128 },
      pipeline: { name: 'train' },
    };
    const trainer = await registry.build<RunnablePipeline>(
      'pipeline',
      config.pipeline as never,
      { logger: silentLogger, rng: Rng.fromSeed(0), config },
      'pipeline',
    );
    await trainer.run({ logger: silentLogger });
    checkpoint = join(dir, 'trained', 'checkpoints', 'last.ckpt');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ensemble of the evaluated checkpoint twice equals msp; a missing member is named', async () => {
    const msp = await run('msp', { name: 'msp' });
    const ens = await run('ens', { name: 'ensemble', args: { checkpoints: [checkpoint, checkpoint] } });
    ens.rows.forEach((r, i) => expect(r.AUROC).toBeCloseTo(msp.rows[i]!.AUROC, 6));
    await expect(run('ens_bad', { name: 'ensemble', args: { checkpoints: [checkpoint, join(dir, 'nope.ckpt')] } })).rejects.toThrow(
      /checkpoints\[1\] \(.*nope\.ckpt\).*no such checkpoint/,
    );
  });

  it.each([
    ['gram', { name: 'gram', args: { powers: [1, 2] } }],
    ['adascale_a', { name: 'adascale_a' }],
    ['adascale_l', { name: 'adascale_l' }],
    ['nac', { name: 'nac', args: { valid_num: 100 } }],
  ])('%s fits on the ID inputs and scores every split', async (exp, postprocessor) => {
    const result = await run(exp, postprocessor);
    expect(result.rows.length).toBeGreaterThan(0);
    for (const r of result.rows) expect(Number.isFinite(r.AUROC)).toBe(true);
  });
});
