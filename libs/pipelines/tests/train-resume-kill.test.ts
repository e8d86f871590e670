import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { checkpointPaths } from '../src/train/loop.js';
import { initCompute } from '@oodkit/compute';
import { runTiny } from './fixtures/tiny-run.js';
import { weightsOf } from './fixtures/tiny.js';

const here = dirname(fileURLToPath(import.meta.url));
const workspace = join(here, '..', '..', '..');
const child = join(here, 'fixtures', 'tiny-child.ts');

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'oodkit-train-kill-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Run the child; with `killAfterCheckpoint`, SIGKILL it right after it reports that checkpoint. */
function runChild(
  outputDir: string,
  mode: 'fresh' | 'resume',
  weightsOut: string,
  killAfterCheckpoint?: number,
): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, outputDir, mode, weightsOut], {
      cwd: workspace,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (killAfterCheckpoint !== undefined && stdout.includes(`checkpoint last ${killAfterCheckpoint}\n`) && proc.exitCode === null)
        proc.kill('SIGKILL');
    });
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child failed (${code}): ${stderr}`));
      else resolve({ code, signal, stdout });
    });
  });
}

describe('train resume after a kill', () => {
  it('a run killed mid-epoch and resumed ends with the same weights as an uninterrupted run', async () => {
    // The unbroken reference runs in-process (same cpu backend, same code): one child start-up less.
    await initCompute({ backend: 'cpu' });
    const full = await runTiny({ outputDir: join(root, 'full') });
    const fullWeights = await weightsOf(full.net);
    full.net.dispose();
    full.trainer.dispose();

    const dir = join(root, 'killed');
    const killedOut = join(root, 'killed.json');
    // checkpoint at global step 8 is mid-epoch 2 (6 steps/epoch, checkpoint every 2 steps)
    const killed = await runChild(dir, 'fresh', killedOut, 8);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toContain('done');
    const atKill = await readCheckpoint(checkpointPaths(dir).last);
    expect(atKill.meta.position.globalStep).toBeGreaterThanOrEqual(8);
    expect(atKill.meta.position.globalStep).toBeLessThan(24);

    const resumed = await runChild(dir, 'resume', killedOut);
    expect(resumed.stdout).toContain('done');
    // it continued rather than restarted: the first step it reports is the one after the checkpoint
    expect(resumed.stdout.split('\n')[0]).toBe(`step ${atKill.meta.position.globalStep + 1}`);
    expect(JSON.parse(readFileSync(killedOut, 'utf8'))).toEqual(fullWeights);
  }, 60_000);
});
