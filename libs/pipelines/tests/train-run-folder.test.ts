import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  UsageError,
  componentModule,
  createLogger,
  createOodkitContainer,
  currentProcess,
  registryOf,
  writerTag,
  type ComponentRegistry,
} from '@oodkit/core';
import { initCompute } from '@oodkit/compute';
import { dataModule } from '@oodkit/data';
import { sioModule } from '@oodkit/sio';
import { pipelinesModule } from '../src/module.js';
import { RunFolderExistsError, RunLockedError, runTraining } from '../src/index.js';
import { tinyBenchmark, tinyComponents } from './fixtures/tiny-components.js';

let root: string;
let registry: ComponentRegistry;

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-run-folder-'));
  registry = registryOf(createOodkitContainer([dataModule, sioModule, pipelinesModule, componentModule('fixtures', tinyComponents)]));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
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
    train: { epochs: 2, batch_size: 10, checkpoint_every: 2 },
    ...extra,
  };
}

const files = ['config.yml', 'train.json', 'checkpoints/last.ckpt', 'checkpoints/best.ckpt'];
const snapshot = (dir: string) => Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f))]));

describe('train run folders: never overwritten without resume or overwrite', () => {
  it('refuses an existing run folder without --resume, leaving every file as it was (exit 2)', async () => {
    const cfg = config({ exp_name: 'kept' });
    const first = await runTraining(cfg, { registry });
    const before = snapshot(first.runDir);
    const error = await runTraining({ ...cfg, seed: 4 }, { registry }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunFolderExistsError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(/training run folder '.*kept' already holds results; pass --resume .* or --overwrite/);
    expect(snapshot(first.runDir)).toEqual(before);
  });

  it('--overwrite moves the old folder aside (nothing deleted) and trains afresh', async () => {
    const cfg = config({ exp_name: 'replaced' });
    const first = await runTraining(cfg, { registry });
    const before = snapshot(first.runDir);
    const lines: string[] = [];
    const second = await runTraining(
      { ...cfg, seed: 5 },
      { registry, overwrite: true, logger: createLogger('info', '', (l) => lines.push(l)) },
    );
    const aside = readdirSync(root).filter((n) => n.startsWith('replaced.replaced-'));
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatch(/^replaced\.replaced-\d{8}T\d{6}Z$/);
    expect(snapshot(join(root, aside[0]!))).toEqual(before);
    expect(second.resumedFrom).toBeNull();
    expect(second.configHash).not.toBe(first.configHash);
    expect(lines.join('\n')).toMatch(/moved the existing training run folder aside: .*replaced → .*replaced\.replaced-/);
    await expect(runTraining(cfg, { registry, overwrite: true, resume: true })).rejects.toThrow(
      /--resume and --overwrite exclude each other/,
    );
  });

  it('derived folder names carry the training hash: other hyperparameters, other folder', async () => {
    const a = await runTraining(config(), { registry });
    const b = await runTraining(config({ train: { epochs: 1, batch_size: 10, checkpoint_every: 2 } }), { registry });
    expect(basename(a.runDir)).toBe(`tinybench_tiny_mlp_tiny_sgd_s3-${a.configHash.slice(0, 8)}`);
    expect(basename(b.runDir)).toBe(`tinybench_tiny_mlp_tiny_sgd_s3-${b.configHash.slice(0, 8)}`);
    expect(a.runDir).not.toBe(b.runDir);
    expect(existsSync(join(a.runDir, 'checkpoints', 'best.ckpt'))).toBe(true);
    // the same config again is the same folder: refused unless resumed
    await expect(runTraining(config(), { registry })).rejects.toThrow(RunFolderExistsError);
    expect((await runTraining(config(), { registry, resume: true })).resumedFrom?.epoch).toBe(2);
  });

  it('a second run on the same folder while the first is training is refused (the first completes)', async () => {
    const cfg = config({ exp_name: 'busy' });
    let second: unknown;
    const first = await runTraining(cfg, {
      registry,
      hooks: {
        onStep: async ({ globalStep }) => {
          if (globalStep === 1) second = await runTraining(cfg, { registry, resume: true }).catch((e: unknown) => e);
        },
      },
    });
    expect(second).toBeInstanceOf(RunLockedError);
    expect((second as Error).message).toMatch(
      new RegExp(`training run folder '.*busy' is in use by another oodkit process \\(pid ${process.pid} `),
    );
    expect(first.globalStep).toBe(8);
  });

  it('a refused resume (another config) leaves config.yml alone', async () => {
    const cfg = config({ exp_name: 'resume-guard' });
    const first = await runTraining(cfg, { registry });
    const before = readFileSync(join(first.runDir, 'config.yml'), 'utf8');
    await expect(runTraining({ ...cfg, seed: 9 }, { registry, resume: true })).rejects.toThrow(/different training config/);
    expect(readFileSync(join(first.runDir, 'config.yml'), 'utf8')).toBe(before);
  });

  it('--resume removes the temp files of interrupted checkpoint writes (dead writers only)', async () => {
    const cfg = config({ exp_name: 'temps' });
    const first = await runTraining(cfg, { registry });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const checkpoints = join(first.runDir, 'checkpoints');
    mkdirSync(checkpoints, { recursive: true });
    const legacy = join(checkpoints, `.last.ckpt.${dead}.4.tmp`);
    const tagged = join(checkpoints, `.best.ckpt.${writerTag({ ...currentProcess(), pid: dead })}.1.tmp`);
    const live = join(checkpoints, `.last.ckpt.${writerTag()}.99.tmp`);
    for (const f of [legacy, tagged, live]) writeFileSync(f, 'partial');
    const lines: string[] = [];
    await runTraining(cfg, { registry, resume: true, logger: createLogger('info', '', (l) => lines.push(l)) });
    expect(existsSync(legacy)).toBe(false);
    expect(existsSync(tagged)).toBe(false);
    expect(existsSync(live)).toBe(true); // this process's own: a write in progress as far as anyone knows
    expect(lines.join('\n')).toMatch(/removed 2 temp file\(s\) of interrupted writes/);
    rmSync(live);
  });
});
