import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { TrainingDivergedError, TrainingInterruptedError, checkpointPaths } from '../src/train/loop.js';
import { runTiny } from './fixtures/tiny-run.js';
import { weightsOf } from './fixtures/tiny.js';

let root: string;
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-train-loop-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('trainLoop', () => {
  it('trains, validates each epoch and writes best and last checkpoints with metadata', async () => {
    const dir = join(root, 'plain');
    const epochEnds: number[] = [];
    const { result, net, trainer } = await runTiny({ outputDir: dir, hooks: { onEpochEnd: (r) => epochEnds.push(r.epoch) } });
    expect(epochEnds).toEqual([0, 1, 2, 3]);
    expect(result.history).toHaveLength(4);
    expect(result.globalStep).toBe(24);
    // the separable tiny set is learned: loss falls and validation accuracy ends high
    expect(result.history[3]!.meanLoss).toBeLessThan(result.history[0]!.meanLoss);
    expect(result.history[3]!.valAccuracy!).toBeGreaterThanOrEqual(0.9);
    const last = await readCheckpoint(checkpointPaths(dir).last);
    expect(last.meta.position).toEqual({ epoch: 4, stepInEpoch: 0, globalStep: 24 });
    expect(last.meta.configHash).toBe('tiny-config');
    expect(last.meta.trainer).toMatchObject({ name: 'tiny_sgd', step: 24 });
    expect(last.meta.network).toMatchObject({ name: 'tiny_mlp', numClasses: 3, featureDim: 8 });
    expect(last.meta.rng.run).toBeDefined();
    expect([...last.slots.keys()].sort()).toEqual(['momentum/fc.bias', 'momentum/fc.weight', 'momentum/fc1.bias', 'momentum/fc1.weight']);
    const weights = await weightsOf(net);
    expect(Array.from(last.variables.get('fc.weight')!.data)).toEqual(weights['fc.weight']);
    const best = await readCheckpoint(checkpointPaths(dir).best);
    expect(best.meta.bestEpoch).toBe(result.bestEpoch);
    expect(best.meta.bestValAccuracy).toBe(Math.max(...result.history.map((h) => h.valAccuracy!)));
    expect(best.meta.position.epoch).toBe(result.bestEpoch! + 1);
    net.dispose();
    trainer.dispose();
  });

  it("chooses the best checkpoint as OpenOOD's recorder: val accuracy >= the best so far, so a later tie wins", async () => {
    const dir = join(root, 'ties');
    const best: boolean[] = [];
    // lr 0: the weights never change, so every epoch's validation accuracy ties with the first.
    const { result, net, trainer } = await runTiny({ outputDir: dir, lr: 0, hooks: { onEpochEnd: (r) => best.push(r.best) } });
    expect(new Set(result.history.map((h) => h.valAccuracy)).size).toBe(1);
    expect(best).toEqual([true, true, true, true]);
    expect(result.bestEpoch).toBe(3);
    expect((await readCheckpoint(checkpointPaths(dir).best)).meta.position.epoch).toBe(4);
    net.dispose();
    trainer.dispose();
  });

  it("skips the last batch of every epoch for a trainer that asks (OpenOOD's MixOE), also across a resume", async () => {
    const steps: string[] = [];
    const { result, net, trainer } = await runTiny({
      outputDir: join(root, 'skip-last'),
      skipsLastBatch: true,
      hooks: { onStep: (s) => void steps.push(`${s.epoch}:${s.step}`) },
    });
    expect(result.globalStep).toBe(20); // 4 epochs × (6 − 1) steps
    expect(steps.filter((s) => s.startsWith('0:'))).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4']);
    expect(trainer.getState().step).toBe(20);
    const last = await readCheckpoint(checkpointPaths(join(root, 'skip-last')).last);
    expect(last.meta.position).toEqual({ epoch: 4, stepInEpoch: 0, globalStep: 20 });
    net.dispose();
    trainer.dispose();
  });

  it('keeps the number of live tensors constant across epochs', async () => {
    const counts: number[] = [];
    const { net, trainer } = await runTiny({
      outputDir: join(root, 'memory'),
      epochs: 4,
      hooks: { onEpochEnd: () => counts.push(tf.memory().numTensors) },
    });
    expect(counts).toHaveLength(4);
    // epoch 1 may allocate lazily created state; after that nothing may accumulate
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(counts[3]).toBe(counts[0]);
    net.dispose();
    trainer.dispose();
  });

  it('is reproducible: the same seed gives the same weights, another seed different ones', async () => {
    const a = await runTiny({ outputDir: join(root, 'rep-a'), epochs: 2 });
    const b = await runTiny({ outputDir: join(root, 'rep-b'), epochs: 2 });
    const c = await runTiny({ outputDir: join(root, 'rep-c'), epochs: 2, seed: 8 });
    const wa = await weightsOf(a.net);
    expect(await weightsOf(b.net)).toEqual(wa);
    expect(await weightsOf(c.net)).not.toEqual(wa);
    for (const r of [a, b, c]) {
      r.net.dispose();
      r.trainer.dispose();
    }
  });

  it('resumes mid-epoch from an interrupted run to the same final weights (in-process interruption)', async () => {
    const full = await runTiny({ outputDir: join(root, 'full') });
    const dir = join(root, 'interrupted');
    // step 9 is mid-epoch 2 (6 steps/epoch); the last checkpoint is after step 8 (every 2 steps)
    await expect(
      runTiny({
        outputDir: dir,
        hooks: {
          onStep: ({ globalStep }) => {
            if (globalStep === 9) throw new Error('simulated crash');
          },
        },
      }),
    ).rejects.toThrow('simulated crash');
    const saved = await readCheckpoint(checkpointPaths(dir).last);
    expect(saved.meta.position).toEqual({ epoch: 1, stepInEpoch: 2, globalStep: 8 });
    const resumed = await runTiny({ outputDir: dir, resume: true });
    expect(resumed.result.resumedFrom).toEqual({ epoch: 1, stepInEpoch: 2, globalStep: 8 });
    expect(await weightsOf(resumed.net)).toEqual(await weightsOf(full.net));
    // the epoch loss of the interrupted epoch is exact across the resume
    expect(resumed.result.history.map((h) => h.meanLoss)).toEqual(full.result.history.map((h) => h.meanLoss));
    for (const r of [full, resumed]) {
      r.net.dispose();
      r.trainer.dispose();
    }
  });

  it('stops on request (SIGTERM) with a checkpoint at the current step, and resumes from it to the same weights', async () => {
    const full = await runTiny({ outputDir: join(root, 'full-stop') });
    const dir = join(root, 'stopped');
    const stop = new AbortController();
    // step 9 is mid-epoch 2 and not a checkpoint step (every 2): the stop writes one there
    const stopped = runTiny({
      outputDir: dir,
      stopSignal: stop.signal,
      hooks: { onStep: ({ globalStep }) => void (globalStep === 9 && stop.abort()) },
    });
    await expect(stopped).rejects.toBeInstanceOf(TrainingInterruptedError);
    await expect(stopped).rejects.toThrow(/stopped on request at epoch 2, step 3 \(global step 9\)/);
    expect((await readCheckpoint(checkpointPaths(dir).last)).meta.position).toEqual({ epoch: 1, stepInEpoch: 3, globalStep: 9 });
    const resumed = await runTiny({ outputDir: dir, resume: true });
    expect(resumed.result.resumedFrom).toEqual({ epoch: 1, stepInEpoch: 3, globalStep: 9 });
    expect(await weightsOf(resumed.net)).toEqual(await weightsOf(full.net));
    expect(resumed.result.history.map((h) => h.meanLoss)).toEqual(full.result.history.map((h) => h.meanLoss));
    // at an epoch's last step the epoch is finished first (validation, best, last), then it stops
    const atEnd = new AbortController();
    const endDir = join(root, 'stopped-at-epoch-end');
    await expect(
      runTiny({
        outputDir: endDir,
        stopSignal: atEnd.signal,
        hooks: { onStep: ({ globalStep }) => void (globalStep === 6 && atEnd.abort()) },
      }),
    ).rejects.toThrow(/epoch 2, step 0 \(global step 6\)/);
    expect((await readCheckpoint(checkpointPaths(endDir).last)).meta.history).toHaveLength(1);
    for (const r of [full, resumed]) {
      r.net.dispose();
      r.trainer.dispose();
    }
  });

  it('refuses to resume under a different config', async () => {
    const dir = join(root, 'other-config');
    const first = await runTiny({ outputDir: dir, epochs: 1 });
    first.net.dispose();
    await expect(runTiny({ outputDir: dir, resume: true, configHash: 'changed' })).rejects.toThrow(/different training config/);
  });

  it('stops with an error naming the step when the loss becomes NaN', async () => {
    const dir = join(root, 'nan');
    const run = runTiny({ outputDir: dir, poisonAt: 7 });
    await expect(run).rejects.toBeInstanceOf(TrainingDivergedError);
    await expect(runTiny({ outputDir: join(root, 'nan2'), poisonAt: 7 })).rejects.toThrow(/loss is NaN at step 7 \(epoch 2, batch 2\)/);
    // the checkpoint on disk is from before the bad step
    const saved = await readCheckpoint(checkpointPaths(dir).last);
    expect(saved.meta.position.globalStep).toBe(6);
    expect(existsSync(checkpointPaths(dir).best)).toBe(true);
  });
});
