import { resolve } from 'node:path';
import type { Command } from 'commander';
import { initCompute, type BackendName } from '@oodkit/compute';
import { Rng, UsageError, createLogger, loadRun, type Logger } from '@oodkit/core';
import { loadBenchmark } from '@oodkit/data';
import { loadTrainedNetwork, writeBenchmarkFeatures } from '@oodkit/pipelines';
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

/**
 * `oodkit feat-extract`: a trained checkpoint + a benchmark → a feature folder (fc_weight.npy,
 * fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml) for `oodkit eval-features`.
 * The same writer the benchmark pipeline uses, so both produce identical folders.
 */
export async function runFeatExtract(options: FeatExtractOptions): Promise<{ out: string; splits: string[] }> {
  const logger = options.logger ?? createLogger('info', 'feat-extract');
  await initCompute({ backend: options.backend ?? 'auto', logger });
  const { app } = await loadRun({ files: [], builtins: builtinModules });
  const { network, meta } = await loadTrainedNetwork(resolve(options.checkpoint), app.registry, logger);
  try {
    const bench = await loadBenchmark(options.benchmark, app.registry, { logger, rng: Rng.fromSeed(0), config: {} });
    if (bench.config.num_classes !== network.numClasses) {
      throw new UsageError(
        `checkpoint network has ${network.numClasses} classes, benchmark '${bench.config.name}' has ${bench.config.num_classes}`,
      );
    }
    const out = resolve(options.out);
    let split = '';
    let t0 = performance.now();
    const written = await writeBenchmarkFeatures(network, bench, out, {
      batchSize: options.batchSize ?? 1000,
      onProgress: (p) => {
        if (p.split !== split) {
          split = p.split;
          t0 = performance.now();
        }
        if (p.done === p.total) logger.info(`${p.split}: ${p.total} images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      },
    });
    logger.info(`feature folder ${out} (network ${meta.network.name}, checkpoint epoch ${meta.position.epoch})`);
    return { out, splits: written.splits.map((s) => s.name) };
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
