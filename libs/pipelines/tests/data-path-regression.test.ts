// Guards the consolidation of the data path (one benchmark loader, one batching loop, the streams in
// libs/data): the expected digests were recorded from the code *before* that change, on the cpu
// backend, so a refactor that changes a single index, crop, pixel or weight bit fails here.
// Re-recorded once, deliberately: normalize now rounds ToTensor and Normalize step by step in float32
// as torchvision does (bit-equal to PyTorch), which moves pixel values by an ulp; the batch indices,
// validation history and test accuracy were unchanged by that.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Rng,
  componentModule,
  createOodkitContainer,
  defineComponent,
  registryOf,
  silentLogger,
  writeNpy,
  type Batch,
  type ComponentRegistry,
  type ImageDataset,
} from '@oodkit/core';
import { computeModule, initCompute } from '@oodkit/compute';
import { dataModule, loadBenchmark } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { BaseTrainer, OeTrainer, baseTrainerArgs, oeArgs, trainersModule } from '@oodkit/trainers';
import { generateSynthetic, sioModule } from '@oodkit/sio';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { runTraining } from '../src/train/pipeline.js';
import { loadTrainedNetwork } from '../src/train/restore.js';
import { writeBenchmarkFeatures } from '../src/features/extract.js';
import { TinyNet, tinyDataset } from './fixtures/tiny.js';

/** Per step: ID indices, labels and the preprocessed pixels' bytes; outlier indices when there are any. */
const steps: string[] = [];
const outlierSteps: string[] = [];

function sha(...parts: ArrayBufferView[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return hash.digest('hex').slice(0, 16);
}

async function record(batch: Batch, outliers?: Batch): Promise<void> {
  const x = (await batch.x.data()) as Float32Array;
  const y = (await batch.y.data()) as Int32Array;
  steps.push(`${Array.from(batch.indices).join(',')}|${sha(y, x)}`);
  if (outliers) outlierSteps.push(Array.from(outliers.indices).join(','));
}

class RecordingBase extends BaseTrainer {
  override async step(batch: Batch, outliers?: Batch) {
    await record(batch, outliers);
    return super.step(batch, outliers);
  }
}
class RecordingOe extends OeTrainer {
  override async step(batch: Batch, outliers?: Batch) {
    await record(batch, outliers);
    return super.step(batch, outliers);
  }
}

const fixtures = [
  defineComponent({
    kind: 'dataset',
    name: 'tiny8',
    description: 'test fixture: 8×8 images, class c brightens row c',
    args: z.strictObject({ count: z.number().int(), seed: z.number().int() }),
    create: (args) => tinyDataset(`tiny8-${args.seed}`, args.count, 3, args.seed, [8, 8, 1]),
  }),
  defineComponent({
    kind: 'network',
    name: 'tiny8_mlp',
    description: 'test fixture',
    args: z.strictObject({}),
    create: (_args, ctx) => new TinyNet([8, 8, 1], 3, ctx.rng.nextSeed()),
  }),
  defineComponent({
    kind: 'trainer',
    name: 'recording_base',
    description: 'test fixture: base trainer that records its batches',
    args: baseTrainerArgs,
    create: (args, ctx) => new RecordingBase(args, ctx.rng),
  }),
  defineComponent({
    kind: 'trainer',
    name: 'recording_oe',
    description: 'test fixture: oe trainer that records its batches',
    args: oeArgs,
    create: (args, ctx) => new RecordingOe(args, ctx.rng),
  }),
];

const mnistTrain = { name: 'mnist', args: { split: 'train' } };
const pool = { name: 'tiny8', args: { count: 224, seed: 1 } };
const benchmark = {
  name: 'tiny8',
  num_classes: 3,
  image_shape: [8, 8, 1],
  normalization: { mean: [0.5], std: [0.5] },
  preprocessor: {
    train: [{ name: 'random_crop', args: { size: 8, padding: 2 } }, { name: 'horizontal_flip', args: { p: 0.5 } }, { name: 'normalize' }],
    test: [{ name: 'normalize' }],
  },
  id: {
    train: { name: 'subset', args: { of: pool, seed: 0, stratified: true, start: 64, count: 160 } },
    val: { name: 'subset', args: { of: pool, seed: 0, stratified: true, count: 64 } },
    test: { name: 'tiny8', args: { count: 48, seed: 3 } },
  },
  ood: { val: { name: 'blobs', dataset: { name: 'generated', args: { kind: 'blobs', count: 24, shape: [8, 8, 1], seed: 100 } } } },
};

let root: string;
let registry: ComponentRegistry;
let synthetic: { images: string; labels: string };

function config(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    seed: 3,
    output_dir: root,
    compute: { backend: 'cpu' },
    benchmark,
    network: { name: 'tiny8_mlp' },
    trainer: { name: 'recording_base', args: { lr: 0.05 } },
    train: { epochs: 2, batch_size: 32, val_batch_size: 40 },
    ...extra,
  };
}

async function weightsDigest(runDir: string): Promise<string> {
  const { variables } = await readCheckpoint(join(runDir, 'checkpoints', 'last.ckpt'));
  return sha(...[...variables.keys()].sort().map((name) => variables.get(name)!.data as ArrayBufferView));
}

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-data-path-'));
  registry = registryOf(
    createOodkitContainer([computeModule, dataModule, networksModule, trainersModule, sioModule, componentModule('fixtures', fixtures)]),
  );
  // Synthetic pool in the SIO format: 40 images of another tiny8 draw stand in for a generator's output.
  const other = tinyDataset('other', 40, 3, 11, [8, 8, 1]);
  const idx = Int32Array.from({ length: 40 }, (_, i) => i);
  synthetic = { images: join(root, 'images.npy'), labels: join(root, 'labels.npy') };
  await writeNpy(synthetic.images, { data: await other.readImages(idx), shape: [40, 8, 8, 1] });
  await writeNpy(synthetic.labels, { data: BigInt64Array.from(idx, (i) => BigInt(other.labels[i]!)) });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the data path gives the batches and weights it gave before its consolidation', () => {
  it('plain training: every batch, the validation history, test accuracy and the final weights', async () => {
    steps.length = 0;
    const summary = await runTraining(config({ exp_name: 'plain' }), { registry });
    expect(summary.globalStep).toBe(10);
    expect(sha(new TextEncoder().encode(steps.join('\n')))).toBe('e14f340e7b526320');
    expect(summary.history.map((h) => h.valAccuracy)).toEqual([0.40625, 0.359375]);
    expect(summary.testAccuracy).toBe(0.3125);
    expect(await weightsDigest(summary.runDir)).toBe('2f0f04578e41ce4c');
  });

  it('SIO training (ratio 0.75, half the pool): every batch and the final weights', async () => {
    steps.length = 0;
    const summary = await runTraining(config({ exp_name: 'sio', sio: { enabled: true, real_ratio: 0.75, extra_percent: 50, synthetic } }), {
      registry,
    });
    expect(summary.stream).toBe('SIO: 160 real + 20 synthetic (synthetic), batch 32 = 24 real + 8 synthetic, 5 steps/epoch (faithful)');
    expect(sha(new TextEncoder().encode(steps.join('\n')))).toBe('c4fca28bb6f6d2a9');
    expect(await weightsDigest(summary.runDir)).toBe('5b9c7cfbe294aa4e');
  });

  it('outlier indices of an OE run whose outlier set is a whole number of batches', async () => {
    steps.length = 0;
    outlierSteps.length = 0;
    await runTraining(
      config({
        exp_name: 'oe',
        trainer: { name: 'recording_oe', args: { lr: 0.05 } },
        train: {
          epochs: 2,
          batch_size: 32,
          val_batch_size: 40,
          outlier: { name: 'generated', args: { kind: 'blobs', count: 48, shape: [8, 8, 1], seed: 200 } },
          outlier_batch_size: 24,
        },
      }),
      { registry },
    );
    expect(outlierSteps).toHaveLength(10);
    expect(sha(new TextEncoder().encode(outlierSteps.join('\n')))).toBe('9c7c1410394824d8');
  });

  it('feature extraction of a trained checkpoint', async () => {
    const { network } = await loadTrainedNetwork(join(root, 'plain', 'checkpoints', 'last.ckpt'), registry);
    try {
      const loaded = await loadBenchmark(benchmark, registry, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
      const out = join(root, 'features');
      await writeBenchmarkFeatures(network, loaded, out, { batchSize: 50 });
      const files = readdirSync(out)
        .filter((f) => f.endsWith('.npy'))
        .sort();
      expect(sha(...files.map((f) => readFileSync(join(out, f))))).toBe('a77e532a7fceef36');
    } finally {
      network.dispose();
    }
  });

  it('the cvae generator trained through its batches gives the same samples', async () => {
    const real = await registry.build<ImageDataset>(
      'dataset',
      { name: 'subset', args: { of: mnistTrain, seed: 0, stratified: true, count: 100 } },
      { logger: silentLogger, rng: Rng.fromSeed(0), config: {} },
    );
    const generated = await generateSynthetic({
      generator: { name: 'cvae', args: { epochs: 1, hidden: 16, latent: 4, batch_size: 4 } },
      count: 20,
      real,
      cacheRoot: join(root, 'cache'),
      ctx: { registry, logger: silentLogger, config: {} },
    });
    const all = Int32Array.from({ length: 20 }, (_, i) => i);
    expect(sha(await generated.dataset.readImages(all))).toBe('ec001cb4868fa66f');
  });
});
