import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '@oodkit/core';
import { readCheckpoint } from '@oodkit/pipelines';
import { runTrainCommand } from '../src/commands/train.js';
import { runFeatExtractCommand } from '../src/commands/feat-extract.js';
import { inputsFrom } from '../src/shared/options.js';

const quiet = ['--log_level=silent'];
const train = (files: string[]) => runTrainCommand(inputsFrom({ config: files, overrides: quiet }));

const here = dirname(fileURLToPath(import.meta.url));
const workspace = join(here, '..', '..', '..');
const bin = join(workspace, 'apps', 'cli', 'bin', 'oodkit.js');

let root: string;
let benchFile: string;

/** A small slice of the embedded MNIST benchmark, so LeNet trains a few steps on wasm in seconds. */
const tinyBenchmark = `benchmark:
  name: mnist_tiny
  num_classes: 10
  image_shape: [28, 28, 1]
  normalization: { mean: [0.5], std: [0.5] }
  preprocessor:
    train: [{ name: random_crop, args: { size: 28, padding: 2 } }, { name: normalize }]
    test: [{ name: normalize }]
  id:
    train: { name: subset, args: { of: { name: mnist, args: { split: train } }, seed: 0, stratified: true, start: 200, count: 240, name: tiny-train } }
    val: { name: subset, args: { of: { name: mnist, args: { split: train } }, seed: 0, stratified: true, count: 100, name: tiny-val } }
    test: { name: subset, args: { of: { name: mnist, args: { split: test } }, seed: 0, stratified: true, count: 100, name: tiny-test } }
  ood:
    val: { name: blobs_val, dataset: { name: generated, args: { kind: blobs, count: 40, seed: 100 } } }
    far: [{ name: noise, dataset: { name: generated, args: { kind: gaussian, count: 40, seed: 1 } } }]
`;

function trainConfig(name: string, extra = ''): string {
  const file = join(root, `${name}.yml`);
  writeFileSync(
    file,
    `benchmark: ${benchFile}
seed: 1
compute: { backend: wasm }
network: { name: lenet, args: { num_classes: 10, in_channels: 1 } }
trainer: { name: base, args: { lr: 0.05 } }
train: { epochs: 2, batch_size: 40, val_batch_size: 100, checkpoint_every: 1 }
output_dir: ${root}
exp_name: ${name}
${extra}`,
  );
  return file;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'oodkit-cli-train-'));
  benchFile = join(root, 'mnist_tiny.yml');
  writeFileSync(benchFile, tinyBenchmark);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function oodkit(args: string[], killAfterCheckpoints?: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [bin, ...args], { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const seen = stderr.split('checkpoint last →').length - 1;
      if (killAfterCheckpoints !== undefined && seen >= killAfterCheckpoints && proc.exitCode === null) proc.kill('SIGKILL');
    });
    proc.stdout.resume();
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

async function weights(ckpt: string): Promise<Record<string, number[]>> {
  const c = await readCheckpoint(ckpt);
  return Object.fromEntries([...c.variables].map(([k, v]) => [k, Array.from(v.data)]));
}

describe('oodkit train (lenet on the embedded MNIST, wasm)', () => {
  it('trains without SIO and with SIO from user .npy files; feat-extract reads the checkpoint', async () => {
    const plain = await train([trainConfig('plain')]);
    expect(plain.history).toHaveLength(2);
    expect(existsSync(join(plain.runDir, 'checkpoints', 'best.ckpt'))).toBe(true);
    expect(plain.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(plain.history[1]!.meanLoss).toBeLessThan(plain.history[0]!.meanLoss);

    const images = join(root, 'images.npy');
    const labels = join(root, 'labels.npy');
    const px = new Uint8Array(60 * 28 * 28);
    for (let i = 0; i < 60; i++) for (let y = 8; y < 20; y++) px[i * 784 + y * 28 + 14] = 255; // a vertical stroke
    await writeNpy(images, { data: px, shape: [60, 28, 28] });
    await writeNpy(labels, { data: new BigInt64Array(60).fill(1n) });
    const sio = await train([trainConfig('sio', `sio: { real_ratio: 0.75, synthetic: { images: ${images}, labels: ${labels} } }`)]);
    expect(sio.stream).toMatch(/^SIO: 240 real \+ 60 synthetic.*batch 40 = 30 real \+ 10 synthetic, 6 steps\/epoch/);

    const out = join(root, 'features');
    const result = await runFeatExtractCommand(
      { checkpoint: join(plain.runDir, 'checkpoints', 'best.ckpt') },
      inputsFrom({ overrides: [...quiet, '--benchmark', benchFile, '--compute.backend=wasm'], out }),
    );
    expect(result.out).toBe(out);
    expect(result.splits.map((s) => s.name)).toEqual(['train', 'val', 'test', 'blobs_val', 'noise']);
    for (const f of ['fc_weight.npy', 'fc_bias.npy', 'test_features.npy', 'noise_labels.npy', 'splits.yml'])
      expect(existsSync(join(out, f))).toBe(true);
    expect(readFileSync(join(out, 'splits.yml'), 'utf8')).toMatch(/far:\s*\n\s*- noise/);
  }, 120_000);

  it('a run killed mid-training and resumed with --resume ends with the same weights as an unbroken run', async () => {
    // the unbroken run in-process (same wasm backend, same config): saves one process start-up
    await train([trainConfig('unbroken')]);
    const cfg = trainConfig('killed');
    // 6 steps per epoch, a checkpoint after every step: kill after the 4th (mid-epoch 1)
    const killed = await oodkit(['train', '--config', cfg, '--log_level=debug'], 4);
    expect(killed.signal).toBe('SIGKILL');
    const atKill = await readCheckpoint(join(root, 'killed', 'checkpoints', 'last.ckpt'));
    expect(atKill.meta.position.globalStep).toBeLessThan(12);
    const resumed = await oodkit(['train', '--config', cfg, '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resuming at epoch/);
    expect(await weights(join(root, 'killed', 'checkpoints', 'last.ckpt'))).toEqual(
      await weights(join(root, 'unbroken', 'checkpoints', 'last.ckpt')),
    );
  }, 180_000);
});
