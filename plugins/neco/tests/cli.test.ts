import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Rng, readNpy, writeNpy } from '@oodkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const workspace = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const oodkit = (args: string[]) =>
  run(process.execPath, [join(workspace, 'apps/cli/bin/oodkit.js'), ...args], { cwd: workspace, maxBuffer: 1 << 24 });
const root = mkdtempSync(join(tmpdir(), 'oodkit-neco-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * A feature folder where NECO must work: ID features live near the 2-dim affine span of the three
 * class means (small noise elsewhere); OOD features spread over all 12 dims. After standardisation the
 * class plane holds the two leading principal directions (eigenvalues ≈ 1.5 against ≈ 1 for noise).
 */
async function writeFolder(dir: string): Promise<void> {
  const rng = Rng.fromSeed(5);
  const c = 3;
  const d = 12;
  const weight = new Float32Array(c * d);
  for (let k = 0; k < c; k++) weight[k * d + k] = 1;
  const sample = (n: number, ood: boolean) => {
    const f = new Float32Array(n * d);
    const labels = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const y = i % c;
      if (!ood) labels[i] = y;
      for (let j = 0; j < d; j++) f[i * d + j] = ood ? rng.normal(0, 1.5) : (j === y ? 5 : 0) + rng.normal(0, 0.3);
    }
    return { f, labels };
  };
  mkdirSync(dir, { recursive: true });
  await writeNpy(join(dir, 'fc_weight.npy'), { data: weight, shape: [c, d] });
  await writeNpy(join(dir, 'fc_bias.npy'), { data: new Float32Array(c), shape: [c] });
  const splits = {
    train: [300, false],
    val: [90, false],
    test: [150, false],
    oodval: [90, true],
    near: [150, true],
    far: [150, true],
  } as const;
  for (const [name, [n, ood]] of Object.entries(splits)) {
    const { f, labels } = sample(n, ood);
    await writeNpy(join(dir, `${name}_features.npy`), { data: f, shape: [n, d] });
    await writeNpy(join(dir, `${name}_labels.npy`), { data: labels, shape: [n] });
  }
  writeFileSync(join(dir, 'splits.yml'), 'train: train\nval: val\ntest: test\nood_val: oodval\nnear: [near]\nfar: [far]\n');
}

beforeAll(async () => {
  await writeFolder(join(root, 'features'));
});

describe('neco through the oodkit CLI (loaded as a plugin, not a built-in)', () => {
  it('oodkit list postprocessor --config <config with plugins:> lists neco with its provider, args and grid', async () => {
    const { stdout } = await oodkit(['list', 'postprocessor', '--config', 'configs/plugins/neco.yml', '--json']);
    type Listing = { components: { postprocessor: { name: string; provider: string; grid: Record<string, unknown[]> }[] } };
    const listed = (JSON.parse(stdout) as Listing).components.postprocessor;
    const neco = listed.find((p) => p.name === 'neco');
    expect(neco?.provider).toBe('@oodkit/plugin-neco');
    expect(neco?.grid.dim).toContain(100);
    // without the plugin it is not there: the core does not have it
    const plain = JSON.parse((await oodkit(['list', 'postprocessor', '--json'])).stdout) as Listing;
    expect(plain.components.postprocessor.map((p) => p.name)).not.toContain('neco');
  });

  it('oodkit eval-features --config <config with plugins:> --postprocessor neco --postprocessor.args.dim=2 writes metrics and scores', async () => {
    const out = join(root, 'out');
    await oodkit([
      'eval-features',
      '--features',
      join(root, 'features'),
      '--postprocessor',
      'neco',
      '--config',
      'configs/plugins/neco.yml',
      '--out',
      out,
      '--compute.backend=cpu',
      '--postprocessor.args.dim=2',
    ]);
    const metrics = JSON.parse(readFileSync(join(out, 'neco__metrics.json'), 'utf8')) as unknown;
    const text = JSON.stringify(metrics);
    expect(text).toContain('near');
    expect(existsSync(join(out, 'neco__test.npy'))).toBe(true);
    const test = await readNpy(join(out, 'neco__test.npy'));
    const far = await readNpy(join(out, 'neco__far.npy'));
    // ID lies in the leading subspace, OOD does not.
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
    expect(mean(test.data as Float64Array)).toBeGreaterThan(2 * mean(far.data as Float64Array));
    const csv = readFileSync(join(out, 'neco__metrics.csv'), 'utf8');
    const farRow = csv.split('\n').find((l) => l.startsWith('far,'))!;
    expect(Number(farRow.split(',')[2])).toBeGreaterThan(95); // AUROC ×100
  });

  it('configs/bench/with-plugin.yml puts neco into the benchmark matrix (validated against the registries)', async () => {
    // `config print` validates first (exit 2 on an unknown postprocessor), then prints the merged config.
    const { stdout } = await oodkit(['config', 'print', '--config', 'configs/bench/default.yml', 'configs/bench/with-plugin.yml']);
    expect(stdout).toMatch(/plugin-neco/);
    expect(stdout).toMatch(/- neco\n/);
  });
});
