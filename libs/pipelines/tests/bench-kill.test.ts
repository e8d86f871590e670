import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOodkitContainer, registryOf, silentLogger } from '@oodkit/core';
import { initCompute } from '@oodkit/compute';
import { runBenchmark } from '../src/index.js';
import { tinyBenchConfig, tinyBenchModules, writeTinySynthetic } from './fixtures/tiny-bench.js';

const here = dirname(fileURLToPath(import.meta.url));
const workspace = join(here, '..', '..', '..');
const child = join(here, 'fixtures', 'tiny-bench-child.ts');

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'oodkit-bench-kill-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface ChildRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The tiny benchmark in a child process; with `killAt`, SIGKILLed where it pauses (see the child). */
function runChild(outputDir: string, killAt?: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', child, outputDir, ...(killAt ? [killAt] : [])];
    const proc = spawn(process.execPath, args, { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('paused at') && proc.exitCode === null) proc.kill('SIGKILL');
    });
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

const resultFiles = ['summary.json', 'summary.csv', 'results.csv'];

describe('bench: kill -9 at any point, run again, same results', () => {
  it('a benchmark killed inside a checkpoint write, during training, features, evaluation and the summary ends with the summary of an unbroken run', async () => {
    // The unbroken reference, in-process (same cpu backend and code).
    await initCompute({ backend: 'cpu' });
    const referenceDir = join(root, 'reference');
    const registry = registryOf(createOodkitContainer(tinyBenchModules));
    const reference = await runBenchmark(tinyBenchConfig(referenceDir, await writeTinySynthetic(referenceDir)), {
      registry,
      logger: silentLogger,
    });
    const expected = Object.fromEntries(resultFiles.map((f) => [f, readFileSync(join(reference.outDir, f), 'utf8')]));

    // One folder, killed again and again, each rerun getting further: every kill is followed at once
    // by a rerun (no --resume, no waiting for a lock to go stale).
    const dir = join(root, 'killed');
    const kills: [string, string][] = [
      ['.last.ckpt', '3'], // baseline training, mid-epoch 2: inside the checkpoint write
      ['_features.npy', '2'], // baseline features, after the first split's file
      ['__metrics.json', '2'], // the second method's evaluation of the baseline model
      ['summary.json', '1'], // writing the results (the +SIO model trained, extracted and scored on the way)
    ];
    for (const [k, [fragment, n]] of kills.entries()) {
      const killed = await runChild(dir, `${fragment}:${n}`);
      expect(killed.signal, `kill point ${fragment}:${n}: ${killed.stderr}`).toBe('SIGKILL');
      const escaped = fragment.replace(/[.]/g, '\\.');
      expect(killed.stdout).toMatch(new RegExp(`paused at [^ ]*${escaped}[^ ]*\\.\\d+-[tm][0-9a-z]+\\.\\d+\\.tmp`));
      // the interrupted write left its temp file behind (found by the next run's clean-up)
      expect(filesUnder(dir).some((f) => f.includes(fragment) && f.endsWith('.tmp'))).toBe(true);
      if (k > 0) expect(killed.stderr).toMatch(/took over the lock .*\.bench\.lock: its owner \(pid \d+ on .*\) is no longer running/);
    }
    const final = await runChild(dir);
    expect(final.code, final.stderr).toBe(0);
    expect(final.stdout).toContain('done');
    expect(final.stderr).toMatch(/took over the lock/);
    expect(final.stderr).toMatch(/removed 1 temp file\(s\) of interrupted writes/);

    // (its own run-<hash> folder: the synthetic files' paths differ from the reference's)
    const outDir = join(dir, 'bench', readlinkSync(join(dir, 'bench', 'latest')));
    for (const f of resultFiles) expect(readFileSync(join(outDir, f), 'utf8'), f).toBe(expected[f]);
    const left = filesUnder(dir);
    expect(left.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(left.filter((f) => f.includes('.lock'))).toEqual([]);
  }, 240_000);
});
