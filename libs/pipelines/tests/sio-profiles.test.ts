import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRun } from '@oodkit/core';
import { computeModule } from '@oodkit/compute';
import { dataModule, parseBenchmark } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { apsGrid, evaluatorsModule } from '@oodkit/evaluators';
import { parseSioConfig, sioModule } from '@oodkit/sio';
import { benchPlan, benchSectionSchema, pipelinesModule } from '../src/index.js';

const builtins = [
  computeModule,
  dataModule,
  networksModule,
  postprocessorsModule,
  trainersModule,
  evaluatorsModule,
  sioModule,
  pipelinesModule,
];
const profile = (name: string) => fileURLToPath(new URL(`../../../configs/benchmarks/${name}.yml`, import.meta.url));

/** SIO's configs/postprocessors/<name>.yml for the paper's 11 methods: args, and the grid APS searches (null: none). */
const SIO_METHODS: [string, Record<string, unknown>, Record<string, unknown[]> | null][] = [
  ['msp', {}, null],
  ['openmax', { tailsize: 20, alpha: 3, threshold: 0.9 }, null],
  ['temp_scaling', { fit: 'openood' }, null],
  ['odin', { temperature: 1000, noise: 0.0014 }, { temperature: [1, 10, 100, 1000], noise: [0.0014, 0.0028] }],
  ['ebo', { temperature: 1 }, { temperature: [1, 10, 100, 1000] }],
  ['mls', {}, null],
  ['klm', {}, null],
  ['vim', { dim: 42 }, null],
  ['knn', { K: 50 }, { K: [50] }],
  ['dice', { p: 90 }, { p: [90] }],
  ['react', { percentile: 90 }, { percentile: [90] }],
];

describe.each([
  ['cifar10_sio', 'cifar10', 10, ['cifar100']],
  ['cifar100_sio', 'cifar100', 100, ['cifar10']],
])('shipped SIO-paper profile %s', (file, id, classes, near) => {
  it('validates and builds the full run plan without data: 2 variants × 3 seeds × 11 methods', async () => {
    const { config, app } = await loadRun({ files: [profile(file)], builtins });
    const c = config.value as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

    const benchmark = parseBenchmark(c.benchmark, app.registry);
    expect(benchmark.name).toBe(id);
    expect(benchmark.ood.near.map((d) => d.name)).toEqual(near);
    expect(benchmark.ood.far.map((d) => d.name)).toEqual(['mnist', 'svhn', 'texture', 'places365']);
    expect(c.network).toEqual({ name: 'resnet18_32x32', args: expect.objectContaining({ num_classes: classes, in_channels: 3 }) });
    expect(c.train).toMatchObject({ epochs: 200, batch_size: 128 });
    const sio = parseSioConfig(c.sio)!;
    expect(sio.real_ratio).toBe(0.8);
    expect(sio.extra_percent).toBe(100);
    expect(sio.synthetic).toEqual({
      images: `./data/images_classic/${id}_extra/stylegan/images.npy`,
      labels: `./data/images_classic/${id}_extra/stylegan/labels.npy`,
    });

    const plan = benchPlan(benchSectionSchema.parse(c.bench));
    expect(plan.trainings.map((t) => t.name)).toEqual([
      'base/baseline/s0',
      'base/baseline/s1',
      'base/baseline/s2',
      'base/sio/s0',
      'base/sio/s1',
      'base/sio/s2',
    ]);
    expect(plan.trainings[0]!.trainer.args).toMatchObject({ lr: 0.1, momentum: 0.9, weight_decay: 0.0005, nesterov: true });
    expect(plan.evaluations).toHaveLength(6 * 11);
    const methods = plan.evaluations.filter((e) => e.cell.name === 'base/sio/s2').map((e) => e.postprocessor);
    expect(methods.map((m) => m.name)).toEqual(SIO_METHODS.map(([name]) => name));
    for (const [name, args, grid] of SIO_METHODS) {
      const m = methods.find((p) => p.name === name)!;
      expect(app.registry.resolveArgs('postprocessor', { name, args: m.args }), name).toMatchObject(args);
      // the grid APS searches (registered lists replaced by the profile's), or no search at all
      const searched = m.aps ? apsGrid(app.registry, name, m.grid) : {};
      expect(Object.keys(searched).length === 0 ? null : searched, name).toEqual(grid);
    }
  });
});
