import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentModule, createOodkitContainer, registryOf, writeNpy, type ComponentRegistry } from '@oodkit/core';
import { initCompute } from '@oodkit/compute';
import { dataModule } from '@oodkit/data';
import { sioModule } from '@oodkit/sio';
import { trainersModule } from '@oodkit/trainers';
import { networksModule } from '@oodkit/networks';
import { runTraining, withNetworkWrapper } from '../src/train/pipeline.js';
import { loadTrainedNetwork } from '../src/train/restore.js';
import { tinyBenchmark, tinyComponents } from './fixtures/tiny-components.js';

let root: string;
let registry: ComponentRegistry;
let synthetic: { images: string; labels: string };

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-sio-trainers-'));
  registry = registryOf(
    createOodkitContainer([dataModule, sioModule, trainersModule, networksModule, componentModule('fixtures', tinyComponents)]),
  );
  synthetic = { images: join(root, 'images.npy'), labels: join(root, 'labels.npy') };
  await writeNpy(synthetic.images, { data: Uint8Array.from({ length: 20 * 16 }, (_, i) => (i * 37) % 256), shape: [20, 4, 4, 1] });
  await writeNpy(synthetic.labels, { data: BigInt64Array.from({ length: 20 }, (_, i) => BigInt(i % 3)) });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const small: Record<string, Record<string, unknown>> = {
  vos: { sample_number: 2, sample_from: 20, select: 1 },
  pixmix: { mixing_count: 20 },
  cutout: { length: 2 },
  augmix: { severity: 3 },
};

/** The tiny run of a trainer, with or without the SIO stream. */
async function tinyRun(name: string, sio: boolean) {
  return runTraining(
    {
      seed: 1,
      output_dir: root,
      exp_name: `${sio ? 'sio' : 'plain'}-${name}`,
      compute: { backend: 'cpu' },
      benchmark: tinyBenchmark({
        train: { name: 'tiny', args: { count: 30, seed: 1 } },
        val: { name: 'tiny', args: { count: 9, seed: 2 } },
        test: { name: 'tiny', args: { count: 9, seed: 3 } },
      }),
      network: { name: 'tiny_mlp' },
      trainer: { name, args: { lr: 0.05, ...small[name] } },
      train: { epochs: 2, batch_size: 10, outlier: { name: 'tiny', args: { count: 16, seed: 9 } }, outlier_batch_size: 12 },
      ...(sio ? { sio: { real_ratio: 0.8, synthetic } } : {}),
    },
    { registry },
  );
}

describe('SIO wraps every registered trainer without trainer changes', () => {
  it.each(['base', 'oe', 'mixoe', 'logitnorm', 'mixup', 'cutmix', 'regmixup', 'vos', 'godin', 'pixmix', 'cutout', 'randaugment', 'augmix'])(
    '%s trains on the SIO stream',
    async (name) => {
      const summary = await tinyRun(name, true);
      expect(summary.stream).toMatch(/^SIO: 30 real \+ 20 synthetic/);
      // 3 steps per epoch; mixoe skips the last of each, as OpenOOD's MixOETrainer
      expect(summary.globalStep).toBe(name === 'mixoe' ? 4 : 6);
      for (const h of summary.history) expect(Number.isFinite(h.meanLoss)).toBe(true);
      if (name === 'godin') {
        // the trainer's wrapper is what the checkpoint records, so evaluation rebuilds h/g on the trained backbone
        const { network, meta } = await loadTrainedNetwork(join(summary.runDir, 'checkpoints', 'last.ckpt'), registry);
        expect(meta.config?.network).toEqual({ name: 'godin_net', args: { backbone: { name: 'tiny_mlp' } } });
        expect(network.name).toBe('godin_net');
        network.dispose();
      }
    },
  );

  it.each(['cutout', 'randaugment', 'augmix'])('%s trains without SIO too (plain stream)', async (name) => {
    const summary = await tinyRun(name, false);
    expect(summary.stream).not.toMatch(/SIO/);
    expect(summary.globalStep).toBe(6);
    for (const h of summary.history) expect(Number.isFinite(h.meanLoss)).toBe(true);
  });

  it('withNetworkWrapper wraps the configured network once', () => {
    const config = { network: { name: 'lenet', args: { in_channels: 1 } } };
    expect(withNetworkWrapper(config, 'godin_net').network).toEqual({ name: 'godin_net', args: { backbone: config.network } });
    const already = { network: { name: 'godin_net', args: { similarity: 'inner' } } };
    expect(withNetworkWrapper(already, 'godin_net')).toBe(already);
    expect(withNetworkWrapper(config, undefined)).toBe(config);
  });
});
