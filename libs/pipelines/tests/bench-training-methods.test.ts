import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOodkitContainer, registryOf, silentLogger } from '@oodkit/core';
import { initCompute } from '@oodkit/compute';
import { networksModule } from '@oodkit/networks';
import { trainersModule } from '@oodkit/trainers';
import { runBenchmark } from '../src/index.js';
import { tinyBenchConfig, tinyBenchModules, writeTinySynthetic } from './fixtures/tiny-bench.js';

let root: string;
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-bench-methods-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const coupled: Record<string, string> = { conf_branch: 'conf_branch_net', rotpred: 'rot_net', t2fnorm: 't2fnorm_net' };

describe('bench: the training-coupled methods end to end (train → wrapper checkpoint → features → their scores)', () => {
  it('each trainer, baseline and +SIO, is scored by its own method, by msp and by the KNN scores; another method’s head is a recorded failure', async () => {
    const registry = registryOf(createOodkitContainer([...tinyBenchModules, networksModule, trainersModule]));
    const config = tinyBenchConfig(root, await writeTinySynthetic(root));
    const trainers = [...Object.keys(coupled), { name: 'cider', args: { warm_epochs: 1 } }];
    config.train = { epochs: 2, batch_size: 8, val_batch_size: 24 };
    config.bench = {
      trainers,
      variants: ['baseline', 'sio'],
      seeds: [0],
      postprocessors: [
        'msp',
        'conf_branch',
        'rotpred',
        't2fnorm',
        { name: 'cider', args: { K: 3 }, aps: false },
        { name: 'npos', args: { K: 3 }, aps: false },
      ],
    };
    const result = await runBenchmark(config, { registry, logger: silentLogger });
    const done = new Set(result.cells.map((c) => `${c.trainer}/${c.variant}/${c.postprocessor}`));
    for (const variant of ['baseline', 'sio']) {
      for (const trainer of [...Object.keys(coupled), 'cider']) {
        for (const pp of ['msp', 'cider', 'npos', ...(trainer in coupled ? [trainer] : [])]) {
          expect(done.has(`${trainer}/${variant}/${pp}`), `${trainer}/${variant}/${pp}`).toBe(true);
        }
        for (const other of Object.keys(coupled).filter((o) => o !== trainer)) {
          const failure = result.failures.find((f) => f.cell.includes(trainer) && f.cell.includes(variant) && f.postprocessor === other);
          expect(failure?.message, `${trainer}/${variant}/${other}`).toContain(coupled[other]);
        }
      }
    }
    for (const cell of result.cells) {
      for (const row of cell.evaluation.rows) expect(Number.isFinite(row.AUROC), `${cell.trainer} ${cell.postprocessor}`).toBe(true);
    }
  }, 240_000);
});
