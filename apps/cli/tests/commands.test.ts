import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '@oodkit/core';
import { main } from '../src/main.js';
import { captureOutput } from './capture-output.js';

const io = captureOutput();

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oodkit-cli-'));
  // An SIO-format pair: uint8 (6, 32, 32, 3) images with pixel values 10..250, int64 labels 0..2.
  const images = new Uint8Array(6 * 32 * 32 * 3);
  for (let i = 0; i < images.length; i++) images[i] = 10 + (i % 241);
  await writeNpy(join(dir, 'images.npy'), { data: images, shape: [6, 32, 32, 3] });
  await writeNpy(join(dir, 'labels.npy'), { data: BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 0n]) });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('oodkit data', { timeout: 60_000 }, () => {
  it('info validates an SIO .npy pair and prints count, shape, histogram and pixel range', async () => {
    expect(await main(['data', 'info', join(dir, 'images.npy'), '--labels', join(dir, 'labels.npy'), '--num-classes', '3'])).toBe(0);
    expect(io.out).toMatch(/count\s+6/);
    expect(io.out).toMatch(/32×32×3/);
    expect(io.out).toMatch(/0:3 1:2 2:1/);
    expect(io.out).toMatch(/min 10, max 250/);
  });

  it('info rejects labels outside [0, numClasses) and a truncated file, naming the file', async () => {
    expect(await main(['data', 'info', join(dir, 'images.npy'), '--labels', join(dir, 'labels.npy'), '--num-classes', '2'])).not.toBe(0);
    expect(io.err).toContain('labels.npy');
    const cut = join(dir, 'cut.npy');
    writeFileSync(cut, readFileSync(join(dir, 'images.npy')));
    truncateSync(cut, 1000);
    io.err = '';
    expect(await main(['data', 'info', cut, '--labels', join(dir, 'labels.npy')])).not.toBe(0);
    expect(io.err).toContain('cut.npy');
  });

  it('preview writes a PNG grid', async () => {
    const png = join(dir, 'grid.png');
    expect(
      await main([
        'data',
        'preview',
        join(dir, 'images.npy'),
        '--labels',
        join(dir, 'labels.npy'),
        '--out',
        png,
        '--count',
        '6',
        '--cols',
        '3',
      ]),
    ).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('oodkit run / bench usage errors', { timeout: 60_000 }, () => {
  it('run without a pipeline section exits 2 and lists the registered pipelines', async () => {
    const file = join(dir, 'no-pipeline.yml');
    writeFileSync(file, 'benchmark: mnist\n');
    expect(await main(['run', '--config', file])).toBe(2);
    expect(io.err).toMatch(
      /pipeline: required: which pipeline to run, one of benchmark, eval, eval_features, feat_extract, test_acc, test_ood, train, train_oe/,
    );
  });

  it('bench with an unknown profile or a bad key exits 2 before any work', async () => {
    expect(await main(['bench', '--profile', 'nope'])).toBe(2);
    expect(io.err).toMatch(/unknown --profile 'nope'/);
    io.err = '';
    expect(await main(['bench', '--bench.seeds=[0]', '--trian.epochs=1'])).toBe(2);
    expect(io.err).toMatch(/unknown key 'trian.epochs'|trian/);
  });
});
