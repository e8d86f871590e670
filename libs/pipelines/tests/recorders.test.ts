import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Rng, componentModule, createOodkitContainer, registryOf, silentLogger, type ComponentRegistry } from '@oodkit/core';
import { initCompute } from '@oodkit/compute';
import { dataModule } from '@oodkit/data';
import { sioModule } from '@oodkit/sio';
import { pipelinesModule } from '../src/module.js';
import { BaseRecorder, JsonlRecorder, readTrainLog, type TrainLogLine } from '../src/index.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { runTraining } from '../src/train/pipeline.js';
import { runTiny } from './fixtures/tiny-run.js';
import { tinyBenchmark, tinyComponents } from './fixtures/tiny-components.js';

let root: string;
let registry: ComponentRegistry;
const previousCache = process.env.OODKIT_CACHE_DIR;
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-recorders-'));
  process.env.OODKIT_CACHE_DIR = join(root, 'cache');
  registry = registryOf(createOodkitContainer([dataModule, sioModule, pipelinesModule, componentModule('fixtures', tinyComponents)]));
});
afterAll(() => {
  if (previousCache === undefined) delete process.env.OODKIT_CACHE_DIR;
  else process.env.OODKIT_CACHE_DIR = previousCache;
  rmSync(root, { recursive: true, force: true });
});

const logOf = (dir: string, file = 'train_log.jsonl'): TrainLogLine[] => readTrainLog(readFileSync(join(dir, file), 'utf8'));
const jsonl = () => new JsonlRecorder({ save_all_models: false, file: 'train_log.jsonl' });

describe('jsonl recorder', () => {
  it('logs every step once: step, epoch, loss (as the loop saw it), the lr the step used, time', async () => {
    const dir = join(root, 'plain');
    const seen: { globalStep: number; loss: number }[] = [];
    const t0 = Date.now() / 1000;
    const { result, net, trainer } = await runTiny({ outputDir: dir, recorder: jsonl(), hooks: { onStep: (s) => void seen.push(s) } });
    const log = logOf(dir);
    expect(log.map((l) => l.step)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(log.map((l) => l.epoch)).toEqual(Array.from({ length: 24 }, (_, i) => Math.floor(i / 6)));
    expect(log.map((l) => l.step_in_epoch)).toEqual(Array.from({ length: 24 }, (_, i) => i % 6));
    expect(log.map((l) => l.loss)).toEqual(seen.map((s) => s.loss));
    // TinySgd decays linearly from 0.2 to 0 over the 24 steps; step k (1-based) used 0.2·(1 − (k−1)/24)
    log.forEach((l) => expect(l.lr).toBeCloseTo(0.2 * (1 - (l.step - 1) / 24), 12));
    for (const l of log) {
      expect(l.time).toBeGreaterThanOrEqual(t0);
      expect(l.step_seconds).toBeGreaterThanOrEqual(0);
    }
    // the mean of each epoch's logged losses is the epoch's recorded mean loss
    result.history.forEach((h, e) => {
      const losses = log.filter((l) => l.epoch === e).map((l) => l.loss);
      expect(h.meanLoss).toBeCloseTo(losses.reduce((a, b) => a + b, 0) / losses.length, 12);
    });
    expect(existsSync(join(dir, 'checkpoints', 'last.ckpt'))).toBe(true);
    net.dispose();
    trainer.dispose();
  });

  it('a resumed run cuts the log back to its checkpoint: the same lines as an unbroken run', async () => {
    const full = await runTiny({ outputDir: join(root, 'full'), recorder: jsonl() });
    const dir = join(root, 'interrupted');
    await expect(
      runTiny({
        outputDir: dir,
        recorder: jsonl(),
        hooks: {
          onStep: ({ globalStep }) => {
            if (globalStep === 9) throw new Error('simulated crash');
          },
        },
      }),
    ).rejects.toThrow('simulated crash');
    // step 9 was logged, but the last checkpoint is after step 8
    expect(logOf(dir).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const resumed = await runTiny({ outputDir: dir, resume: true, recorder: jsonl() });
    const strip = (lines: TrainLogLine[]) => lines.map(({ step, epoch, loss, lr }) => ({ step, epoch, loss, lr }));
    expect(strip(logOf(dir))).toEqual(strip(logOf(join(root, 'full'))));
    for (const r of [full, resumed]) {
      r.net.dispose();
      r.trainer.dispose();
    }
  });

  it('a fresh run starts a fresh log; a torn last line ends the log when read', () => {
    expect(readTrainLog('{"step":1}\n{"step":2}\n{"st').map((l) => l.step)).toEqual([1, 2]);
  });
});

describe('base recorder', () => {
  it("best by val accuracy >= (OpenOOD's save_model), last every epoch, save_all_models keeps each epoch", async () => {
    const dir = join(root, 'all');
    const { result, net, trainer } = await runTiny({ outputDir: dir, recorder: new BaseRecorder({ save_all_models: true }) });
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual([
      'best.ckpt',
      'epoch_1.ckpt',
      'epoch_2.ckpt',
      'epoch_3.ckpt',
      'epoch_4.ckpt',
      'last.ckpt',
    ]);
    for (let e = 1; e <= 4; e++) expect((await readCheckpoint(join(dir, 'checkpoints', `epoch_${e}.ckpt`))).meta.position.epoch).toBe(e);
    expect((await readCheckpoint(join(dir, 'checkpoints', 'best.ckpt'))).meta.bestEpoch).toBe(result.bestEpoch);
    expect(existsSync(join(dir, 'train_log.jsonl'))).toBe(false);
    const rec = new BaseRecorder({ save_all_models: false });
    expect([rec.isBest(0.5, null), rec.isBest(0.5, 0.5), rec.isBest(0.49, 0.5)]).toEqual([true, true, false]);
    net.dispose();
    trainer.dispose();
  });
});

describe('recorder: config key', () => {
  const config = (extra: Record<string, unknown>) => ({
    seed: 3,
    output_dir: root,
    compute: { backend: 'cpu' },
    benchmark: tinyBenchmark({
      train: { name: 'tiny', args: { count: 40, seed: 1 } },
      val: { name: 'tiny', args: { count: 15, seed: 2 } },
      test: { name: 'tiny', args: { count: 15, seed: 3 } },
    }),
    network: { name: 'tiny_mlp' },
    trainer: { name: 'tiny_sgd' },
    train: { epochs: 2, batch_size: 10 },
    ...extra,
  });

  it('recorder: {name: jsonl} writes the log beside train.json; the default (base) writes none', async () => {
    const withLog = await runTraining(config({ exp_name: 'with-log', recorder: { name: 'jsonl', args: { file: 'steps.jsonl' } } }), {
      registry,
      logger: silentLogger,
    });
    expect(logOf(withLog.runDir, 'steps.jsonl')).toHaveLength(8);
    expect(existsSync(join(withLog.runDir, 'train.json'))).toBe(true);
    const plain = await runTraining(config({ exp_name: 'no-log' }), { registry, logger: silentLogger });
    expect(readdirSync(plain.runDir).filter((f) => f.endsWith('.jsonl'))).toEqual([]);
    // the recorder is not part of the training hash: same weights, same hash
    expect(plain.configHash).toBe(withLog.configHash);
  });

  it('recorder args are validated against the component schema, with the closest name', async () => {
    const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };
    const err = await registry.build('recorder', { name: 'jsonl', args: { fle: 'x.jsonl' } }, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/recorder\.args\.fle.*file/s);
    await expect(registry.build('recorder', { name: 'jsonl', args: { file: '../x.jsonl' } }, ctx)).rejects.toThrow(
      /file name inside the run folder/,
    );
    await expect(registry.build('recorder', { name: 'jsnl' }, ctx)).rejects.toThrow(/jsonl/);
  });
});
