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
import { runTraining } from '../src/train/pipeline.js';
import { loadTrainedNetwork } from '../src/train/restore.js';
import { tinyBenchmark, tinyComponents } from './fixtures/tiny-components.js';

let root: string;
let registry: ComponentRegistry;
let synthetic: { images: string; labels: string };

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-training-methods-'));
  registry = registryOf(
    createOodkitContainer([dataModule, sioModule, trainersModule, networksModule, componentModule('fixtures', tinyComponents)]),
  );
  synthetic = { images: join(root, 'images.npy'), labels: join(root, 'labels.npy') };
  await writeNpy(synthetic.images, { data: Uint8Array.from({ length: 20 * 16 }, (_, i) => (i * 37) % 256), shape: [20, 4, 4, 1] });
  await writeNpy(synthetic.labels, { data: BigInt64Array.from({ length: 20 }, (_, i) => BigInt(i % 3)) });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Each trainer, its args for a tiny run, and the wrapper its checkpoint must rebuild. */
const methods: [string, Record<string, unknown>, string][] = [
  ['conf_branch', {}, 'conf_branch_net'],
  ['rotpred', {}, 'rot_net'],
  ['t2fnorm', { tau: 0.5 }, 't2fnorm_net'],
  ['cider', { warm_epochs: 1 }, 'cider_net'],
  // small queues and synthesis from the first epoch, so the boundary loss runs in a 2-epoch run
  ['npos', { sample_number: 2, sample_from: 4, K: 2, select: 2, pick_nums: 1, ID_points_num: 2, start_epoch_KNN: 1 }, 'npos_net'],
  // pytorch-ood's losses on OpenOOD's outlier stream (no wrapper)
  ['energy_oe', {}, 'tiny_mlp'],
  ['objectosphere', {}, 'tiny_mlp'],
];
const withOutliers = new Set(['energy_oe', 'objectosphere']);

describe('the training-coupled trainers and pytorch-ood losses run with and without SIO; checkpoints rebuild the wrapper', () => {
  for (const [name, args, wrapper] of methods) {
    for (const withSio of [false, true]) {
      it(`${name} ${withSio ? 'on the SIO stream' : 'without SIO'}`, async () => {
        const summary = await runTraining(
          {
            seed: 1,
            output_dir: root,
            exp_name: `${name}-${withSio ? 'sio' : 'plain'}`,
            compute: { backend: 'cpu' },
            benchmark: tinyBenchmark({
              train: { name: 'tiny', args: { count: 30, seed: 1 } },
              val: { name: 'tiny', args: { count: 9, seed: 2 } },
              test: { name: 'tiny', args: { count: 9, seed: 3 } },
            }),
            network: { name: 'tiny_mlp' },
            trainer: { name, args: { lr: 0.05, ...args } },
            train: {
              epochs: 2,
              batch_size: 10,
              ...(withOutliers.has(name) ? { outlier: { name: 'tiny', args: { count: 16, seed: 9 } }, outlier_batch_size: 12 } : {}),
            },
            ...(withSio ? { sio: { real_ratio: 0.8, synthetic } } : {}),
          },
          { registry },
        );
        if (withSio) expect(summary.stream).toMatch(/^SIO: 30 real \+ 20 synthetic/);
        expect(summary.globalStep).toBe(6);
        for (const h of summary.history) expect(Number.isFinite(h.meanLoss)).toBe(true);
        const { network, meta } = await loadTrainedNetwork(join(summary.runDir, 'checkpoints', 'last.ckpt'), registry);
        expect(meta.config?.network).toEqual(
          wrapper === 'tiny_mlp' ? { name: 'tiny_mlp' } : { name: wrapper, args: { backbone: { name: 'tiny_mlp' } } },
        );
        expect(network.name).toBe(wrapper);
        if (name === 't2fnorm') expect((network as unknown as { tau: number }).tau).toBe(0.5);
        network.dispose();
      });
    }
  }
});
