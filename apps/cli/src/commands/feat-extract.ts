import { resolve } from 'node:path';
import type { Command } from 'commander';
import { initCompute, tf, type BackendName } from '@oodkit/compute';
import { Rng, createLogger, loadRun, type ImageDataset, type Logger } from '@oodkit/core';
import { applyChain, loadBenchmark, toUnitFloat, type Preprocessor } from '@oodkit/data';
import { writeFeatureFolder, type FeatureFolderContent } from '@oodkit/evaluators';
import { loadTrainedNetwork } from '@oodkit/pipelines';
import type { Classifier } from '@oodkit/core';
import { builtinModules } from '../modules.js';

export interface FeatExtractOptions {
  readonly checkpoint: string;
  /** Shipped benchmark name, a benchmark YAML path, or an inline declaration. */
  readonly benchmark: unknown;
  readonly out: string;
  readonly batchSize?: number;
  readonly backend?: BackendName | 'auto';
  readonly logger?: Logger;
}

/** Penultimate features and labels of a whole dataset through the test-time chain, in index order. */
export async function extractFeatures(network: Classifier, dataset: ImageDataset, chain: readonly Preprocessor[], batchSize: number, labelsOverride?: number): Promise<{ features: Float32Array; labels: Int32Array }> {
  const features = new Float32Array(dataset.length * network.featureDim);
  const labels = new Int32Array(dataset.length);
  const [h, w, c] = dataset.imageShape;
  const rng = Rng.fromSeed(0); // test chains are deterministic; the stream is only a formality
  for (let start = 0; start < dataset.length; start += batchSize) {
    const n = Math.min(batchSize, dataset.length - start);
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = start + i;
    const host = toUnitFloat(applyChain(chain, { data: await dataset.readImages(idx), n, h, w, c }, rng));
    const z = tf.tidy(() => network.forwardFeatures(tf.tensor4d(host.data as Float32Array, [host.n, host.h, host.w, host.c]), false).features);
    features.set((await z.data()) as Float32Array, start * network.featureDim);
    z.dispose();
    for (let i = 0; i < n; i++) labels[start + i] = labelsOverride ?? dataset.labels[start + i]!;
  }
  return { features, labels };
}

/**
 * `oodkit feat-extract`: a trained checkpoint + a benchmark → a feature folder (fc_weight.npy,
 * fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml) for `oodkit eval-features`.
 */
export async function runFeatExtract(options: FeatExtractOptions): Promise<{ out: string; splits: string[] }> {
  const logger = options.logger ?? createLogger('info', 'feat-extract');
  await initCompute({ backend: options.backend ?? 'auto', logger });
  const { app } = await loadRun({ files: [], builtins: builtinModules });
  const { network, meta } = await loadTrainedNetwork(resolve(options.checkpoint), app.registry, logger);
  try {
    const bench = await loadBenchmark(options.benchmark, app.registry, { logger, rng: Rng.fromSeed(0), config: {} });
    if (bench.config.num_classes !== network.numClasses) {
      throw new Error(`checkpoint network has ${network.numClasses} classes, benchmark '${bench.config.name}' has ${bench.config.num_classes}`);
    }
    const batch = options.batchSize ?? 1000;
    const splits: FeatureFolderContent['splits'][number][] = [];
    const add = async (name: string, dataset: ImageDataset, ood: boolean) => {
      const t0 = performance.now();
      const { features, labels } = await extractFeatures(network, dataset, bench.preprocess.test, batch, ood ? -1 : undefined);
      splits.push({ name, features, labels });
      logger.info(`${name}: ${dataset.length} images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    };
    await add('train', bench.id.train, false);
    await add('val', bench.id.val, false);
    await add('test', bench.id.test, false);
    await add(bench.ood.val.name, bench.ood.val.dataset, true);
    for (const set of [...bench.ood.near, ...bench.ood.far]) await add(set.name, set.dataset, true);
    for (const set of bench.csid) await add(set.name, set.dataset, false);
    const { weight, bias } = network.finalLayer();
    const finalLayer = { numClasses: network.numClasses, featureDim: network.featureDim, weight: (await weight.data()) as Float32Array, bias: (await bias.data()) as Float32Array };
    weight.dispose();
    bias.dispose();
    const out = resolve(options.out);
    await writeFeatureFolder(out, {
      finalLayer,
      splits,
      roles: {
        train: 'train',
        val: 'val',
        test: 'test',
        ood_val: bench.ood.val.name,
        near: bench.ood.near.map((s) => s.name),
        far: bench.ood.far.map((s) => s.name),
        csid: bench.csid.map((s) => s.name),
      },
    });
    logger.info(`feature folder ${out} (network ${meta.network.name}, checkpoint epoch ${meta.position.epoch})`);
    return { out, splits: splits.map((s) => s.name) };
  } finally {
    network.dispose();
  }
}

export function registerFeatExtract(program: Command): void {
  program
    .command('feat-extract')
    .description('write a feature folder (penultimate features of every benchmark split + final layer) from a trained checkpoint')
    .requiredOption('--checkpoint <file>', 'a .ckpt written by oodkit train (e.g. results/train/<run>/checkpoints/best.ckpt)')
    .requiredOption('--benchmark <name or file>', 'shipped benchmark name (mnist) or benchmark YAML path')
    .requiredOption('--out <dir>', 'output feature folder')
    .option('--batch-size <n>', 'images per forward pass', (v) => Number.parseInt(v, 10), 1000)
    .option('--backend <name>', 'compute backend: auto, tensorflow, wasm, cpu', 'auto')
    .action(async (opts: { checkpoint: string; benchmark: string; out: string; batchSize: number; backend: BackendName | 'auto' }) => {
      await runFeatExtract(opts);
    });
}
