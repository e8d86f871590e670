import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRun } from '@oodkit/core';
import { computeModule } from '@oodkit/compute';
import { dataModule } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { evaluatorsModule } from '@oodkit/evaluators';
import { sioModule } from '@oodkit/sio';
import { NON_TRAINING_KEYS, pipelinesModule, trainingConfigHash } from '../src/index.js';

const configs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'configs');
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

const base = {
  seed: 0,
  output_dir: 'results',
  benchmark: {
    name: 'b',
    description: 'a benchmark',
    num_classes: 3,
    image_shape: [4, 4, 1],
    normalization: { mean: [0.5], std: [0.5] },
    id: { train: { name: 'tiny', args: { count: 40, seed: 1 } }, val: { name: 'tiny', args: { count: 9, seed: 2 } } },
    ood: { val: { name: 'v', dataset: { name: 'tiny', args: { count: 5, seed: 7 } } }, far: [] },
  },
  network: { name: 'tiny_mlp', args: { num_classes: 3 } },
  trainer: { name: 'base', args: { lr: 0.1 } },
  train: { epochs: 2, batch_size: 10, checkpoint_every: 0 },
  sio: { enabled: true, real_ratio: 0.8, synthetic: { name: 'cvae', count: 100 } },
  bench: { postprocessors: ['msp'], report: { sample_grid: 10 } },
};
type Config = Record<string, unknown>;
const hash = trainingConfigHash(base);
const withKey = (key: string, value: unknown): Config => ({ ...base, [key]: value });
const deep = (path: string, value: unknown): Config => {
  const copy = structuredClone(base) as Config;
  const keys = path.split('.');
  let node = copy as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) node = node[k] as Record<string, unknown>;
  node[keys.at(-1)!] = value;
  return copy;
};

describe('training hash: only what changes training', () => {
  it.each<[string, Config]>([
    ['a postprocessor block', withKey('postprocessor', { name: 'neco', args: { dim: 100 } })],
    ['another method list', deep('bench.postprocessors', ['msp', 'ebo', 'neco'])],
    ['report settings', deep('bench.report', { sample_grid: 4, histogram_bins: 10 })],
    ['plugins', withKey('plugins', ['@oodkit/plugin-neco'])],
    ['the output folder', withKey('output_dir', '/elsewhere')],
    ['the experiment name', withKey('exp_name', 'x')],
    ['the log level', withKey('log_level', 'debug')],
    ['the compute backend', withKey('compute', { backend: 'cpu' })],
    ['the launcher', withKey('launcher', { name: 'slurm', jobs: 4, slurm: { partition: 'gpu' } })],
    ['the pipeline', withKey('pipeline', { name: 'benchmark' })],
    ['an evaluator', withKey('evaluator', { name: 'ood' })],
    ['the cache folder', withKey('cache_dir', '/tmp/c')],
    ['the checkpoint frequency', deep('train.checkpoint_every', 50)],
    ['the OOD sets of the benchmark', deep('benchmark.ood.far', [{ name: 'n', dataset: { name: 'tiny', args: { count: 5, seed: 9 } } }])],
    ['the benchmark description', deep('benchmark.description', 'other words')],
  ])('is unchanged by %s', (_what, config) => {
    expect(trainingConfigHash(config)).toBe(hash);
  });

  it('removing the postprocessor and bench sections changes nothing either', () => {
    const { bench: _bench, ...rest } = base;
    expect(trainingConfigHash(rest)).toBe(hash);
    expect(trainingConfigHash({ ...rest, postprocessor: { name: 'msp' }, bench: { postprocessors: ['knn'] } })).toBe(hash);
  });

  it('a disabled sio block trains the baseline', () => {
    const { sio: _sio, ...baseline } = base;
    expect(trainingConfigHash(deep('sio', { ...base.sio, enabled: false }))).toBe(trainingConfigHash(baseline));
    expect(trainingConfigHash(baseline)).not.toBe(hash);
  });

  it.each<[string, Config]>([
    ['the learning rate', deep('trainer.args.lr', 0.05)],
    ['the trainer', withKey('trainer', { name: 'logitnorm' })],
    ['the number of epochs', deep('train.epochs', 3)],
    ['the batch size', deep('train.batch_size', 20)],
    ['the seed', withKey('seed', 1)],
    ['the network', deep('network.args', { num_classes: 3, width: 2 })],
    ['the SIO real ratio', deep('sio.real_ratio', 0.5)],
    ['the synthetic set', deep('sio.synthetic.count', 200)],
    ['the ID training set', deep('benchmark.id.train.args.count', 41)],
    ['the ID validation set (it picks the best checkpoint)', deep('benchmark.id.val.args.seed', 3)],
    ['the normalisation', deep('benchmark.normalization', { mean: [0.4], std: [0.5] })],
    ['the data folder', withKey('data_dir', '/data')],
    ['the preprocessing chains', withKey('preprocessor', { train: [{ name: 'normalize' }] })],
    ['an unknown (plugin) section', withKey('my_plugin_training', { alpha: 1 })],
  ])('changes with %s', (_what, config) => {
    expect(trainingConfigHash(config)).not.toBe(hash);
  });

  it('every top-level key of a resolved config is known as training or not (a new section must be classified)', async () => {
    const TRAINING_KEYS = ['seed', 'benchmark', 'network', 'trainer', 'train', 'sio', 'data_dir'];
    for (const files of [[join(configs, 'bench', 'default.yml')], [join(configs, 'train', 'lenet_oe.yml')]]) {
      const { config } = await loadRun({ files, builtins });
      const unclassified = Object.keys(config.value).filter((k) => !NON_TRAINING_KEYS.has(k) && !TRAINING_KEYS.includes(k));
      expect(unclassified, files.join(', ')).toEqual([]);
    }
  });

  it('the shipped benchmark config and a plugin config on top of it give the same training hash', async () => {
    const plain = await loadRun({ files: [join(configs, 'bench', 'default.yml')], builtins });
    for (const extra of [join(configs, 'bench', 'with-plugin.yml'), join(configs, 'plugins', 'neco.yml')]) {
      const withPlugin = await loadRun({ files: [join(configs, 'bench', 'default.yml'), extra], builtins });
      expect(withPlugin.config.value.plugins).toEqual(['@oodkit/plugin-neco']);
      expect(trainingConfigHash(withPlugin.config.value)).toBe(trainingConfigHash(plain.config.value));
    }
  });
});
