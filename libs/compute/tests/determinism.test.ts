import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LATE_WORKERS_ENV } from '../src/wasm/kernel-pool.js';

// Same seed → same weights on the wasm backend, whatever the thread count, late-starting workers or
// a loaded machine: each run is its own process (the backend's pool is per process).
const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.join(here, 'fixtures', 'train-steps.ts');
const root = path.resolve(here, '..', '..', '..');

function train(env: Record<string, string>): { threads: number; weights: string } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, OODKIT_BACKEND: '', ...env },
  });
  expect(child.error).toBeUndefined();
  expect(child.stderr).not.toMatch(/Error/);
  expect(child.status).toBe(0);
  const match = /threads=(\d+) weights=([0-9a-f]{64})/.exec(child.stdout);
  expect(match, child.stdout).not.toBeNull();
  return { threads: Number(match![1]), weights: match![2]! };
}

describe('determinism of wasm training', () => {
  it('gives bit-identical weights on 1 and 2 threads, with workers that start and pick up work late, and under CPU contention', () => {
    const one = train({ OODKIT_WASM_THREADS: '1' });
    const two = train({ OODKIT_WASM_THREADS: '2' });
    const late = train({ OODKIT_WASM_THREADS: '2', [LATE_WORKERS_ENV]: '4' });
    const hogs: ChildProcess[] = Array.from({ length: 3 }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    let loaded: { threads: number; weights: string };
    try {
      loaded = train({ OODKIT_WASM_THREADS: '2', [LATE_WORKERS_ENV]: '2' });
    } finally {
      for (const hog of hogs) hog.kill('SIGKILL');
    }
    expect([one.threads, two.threads, late.threads, loaded.threads]).toEqual([1, 2, 2, 2]);
    expect(two.weights).toBe(one.weights);
    expect(late.weights).toBe(one.weights);
    expect(loaded.weights).toBe(one.weights);
  }, 300_000);
});
