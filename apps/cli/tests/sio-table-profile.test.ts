import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureOutput } from './capture-output.js';

const io = captureOutput();
const BENCH_DEFAULT = fileURLToPath(new URL('../../../configs/bench/default.yml', import.meta.url));

describe('oodkit config check --profile sio-table / sio-ablation', { timeout: 60_000 }, () => {
  it.each(['sio-table', 'sio-ablation'])('%s validates on the bench defaults', async (profile) => {
    expect(await main(['config', 'check', '-c', BENCH_DEFAULT, '--profile', profile])).toBe(0);
    expect(io.out.trim()).toBe('ok');
  });

  it('a misspelt trainer or benchmark in the profile is reported with its key (exit 2)', async () => {
    const code = await main([
      'config',
      'check',
      '-c',
      BENCH_DEFAULT,
      '--profile',
      'sio-table',
      '--bench.benchmarks=[mnist, fashion]',
      '--bench.trainers=[base, {name: godinn, postprocessors: [godin]}]',
    ]);
    expect(code).toBe(2);
    expect(io.err).toContain('bench.trainers.1');
    expect(io.err).toMatch(/godinn/);
    expect(io.err).toContain('bench.benchmarks.1');
  });
});
