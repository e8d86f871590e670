import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Rng, readNpy, writeNpy } from '@oodkit/core';
import { FsTree, flushChanges } from 'nx/src/generators/tree.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeComponentPlugin, type PluginKind } from '../src/index.js';

/**
 * Replays docs/tutorial-add-a-method.md in a throw-away workspace: the real libs and node_modules
 * are linked in, the generators write the four example packages, npm's workspace link is recreated
 * by hand (what `npm install` does for a new `plugins/*` package), and the generated tests run
 * before (they must fail: not implemented) and after the tutorial's code is dropped in (they pass).
 */
const here = dirname(fileURLToPath(import.meta.url));
const workspace = join(here, '..', '..', '..');
const tutorial = readFileSync(join(workspace, 'docs', 'tutorial-add-a-method.md'), 'utf8');
const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'oodkit-tutorial-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const EXAMPLES: { kind: PluginKind; name: string; file: string; fn: string }[] = [
  { kind: 'postprocessor', name: 'margin', file: 'src/margin.ts', fn: 'export function marginConf(' },
  { kind: 'trainer', name: 'smoothing', file: 'src/smoothing.ts', fn: 'export function smoothingLoss(' },
  { kind: 'network', name: 'mlp', file: 'src/mlp.ts', fn: 'protected trunk(' },
  { kind: 'dataset', name: 'ramp', file: 'src/ramp.ts', fn: 'async readImages(' },
];

/** The ```ts block after `<!-- implementation: <kind> <name> -->` in the tutorial. */
export function tutorialSnippet(kind: string, name: string): string {
  const marker = `<!-- implementation: ${kind} ${name} -->`;
  const at = tutorial.indexOf(marker);
  if (at < 0) throw new Error(`tutorial has no ${marker}`);
  const match = /```ts\n([\s\S]*?)```/.exec(tutorial.slice(at));
  if (!match) throw new Error(`no ts block after ${marker}`);
  return match[1];
}

/** Replace the function/method starting with `signature` (through its closing brace at the same indent). */
export function replaceFunction(source: string, signature: string, replacement: string): string {
  const lines = source.split('\n');
  const start = lines.findIndex((line) => line.trimStart().startsWith(signature));
  if (start < 0) throw new Error(`'${signature}' not found`);
  const indent = lines[start].slice(0, lines[start].length - lines[start].trimStart().length);
  const end = lines.findIndex((line, i) => i > start && line === `${indent}}`);
  if (end < 0) throw new Error(`end of '${signature}' not found`);
  return [...lines.slice(0, start), ...replacement.replace(/\n$/, '').split('\n'), ...lines.slice(end + 1)].join('\n');
}

function linkNodeModules(): void {
  const real = join(workspace, 'node_modules');
  const mine = join(root, 'node_modules');
  mkdirSync(join(mine, '@oodkit'), { recursive: true });
  // Dot entries (.vite, .cache, ...) stay out: the nested runs must not write caches into the real tree.
  for (const entry of readdirSync(real))
    if (entry !== '@oodkit' && !entry.startsWith('.')) symlinkSync(join(real, entry), join(mine, entry));
  for (const entry of readdirSync(join(real, '@oodkit')))
    symlinkSync(realpathSync(join(real, '@oodkit', entry)), join(mine, '@oodkit', entry));
}

interface VitestJson {
  testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[];
}

async function vitest(): Promise<{ code: number; results: { title: string; status: string; failure: string }[] }> {
  const bin = join(workspace, 'node_modules', 'vitest', 'vitest.mjs');
  const out = join(root, 'vitest.json');
  rmSync(out, { force: true });
  let code = 0;
  try {
    await run(process.execPath, [bin, 'run', '--root', root, '--reporter=json', `--outputFile=${out}`], { cwd: root, maxBuffer: 1 << 26 });
  } catch (error) {
    code = (error as { code?: number }).code ?? 1;
  }
  const json = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
  return {
    code,
    results: json.testResults.flatMap((f) =>
      f.assertionResults.map((a) => ({ title: a.title, status: a.status, failure: a.failureMessages.join('\n') })),
    ),
  };
}

const oodkit = (args: string[]) =>
  run(process.execPath, [join(workspace, 'apps/cli/bin/oodkit.js'), ...args], { cwd: workspace, maxBuffer: 1 << 24 });

/** A small feature folder: 3 well-separated classes (W = I on the first 3 dims), OOD near the origin. */
async function writeFeatureFolder(dir: string): Promise<{ weight: Float32Array; bias: Float32Array; d: number }> {
  const rng = Rng.fromSeed(9);
  const c = 3;
  const d = 6;
  const weight = new Float32Array(c * d);
  for (let k = 0; k < c; k++) weight[k * d + k] = 1;
  const bias = Float32Array.from([0.1, -0.2, 0]);
  mkdirSync(dir, { recursive: true });
  await writeNpy(join(dir, 'fc_weight.npy'), { data: weight, shape: [c, d] });
  await writeNpy(join(dir, 'fc_bias.npy'), { data: bias, shape: [c] });
  const splits: Record<string, [number, boolean]> = {
    train: [60, false],
    val: [45, false],
    test: [60, false],
    oodval: [30, true],
    near: [60, true],
    far: [60, true],
  };
  for (const [name, [n, ood]] of Object.entries(splits)) {
    const f = new Float32Array(n * d);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = ood ? -1 : i % c;
      for (let j = 0; j < d; j++) f[i * d + j] = (!ood && j === i % c ? 4 : 0) + rng.normal(0, ood ? 0.8 : 0.5);
    }
    await writeNpy(join(dir, `${name}_features.npy`), { data: f, shape: [n, d] });
    await writeNpy(join(dir, `${name}_labels.npy`), { data: labels, shape: [n] });
  }
  writeFileSync(join(dir, 'splits.yml'), 'train: train\nval: val\ntest: test\nood_val: oodval\nnear: [near]\nfar: [far]\n');
  return { weight, bias, d };
}

beforeAll(() => {
  copyFileSync(join(workspace, 'tsconfig.base.json'), join(root, 'tsconfig.base.json'));
  symlinkSync(join(workspace, 'libs'), join(root, 'libs'));
  linkNodeModules();
  writeFileSync(
    join(root, 'vitest.config.ts'),
    "import { defineConfig } from 'vitest/config';\nexport default defineConfig({ test: { projects: ['plugins/*/vitest.config.ts'], pool: 'forks' } });\n",
  );
  const tree = new FsTree(root, false);
  for (const example of EXAMPLES) writeComponentPlugin(tree, example.kind, { name: example.name });
  flushChanges(root, tree.listChanges());
  for (const example of EXAMPLES)
    symlinkSync(join(root, 'plugins', example.name), join(root, 'node_modules', '@oodkit', `plugin-${example.name}`));
});

describe('tutorial: add a method in ten minutes', () => {
  it('the tutorial names the generator commands this test replays', () => {
    for (const { kind, name } of EXAMPLES) expect(tutorial).toContain(`npx nx g @oodkit/nx-plugin:${kind} ${name}`);
  });

  it('generated tests fail before the implementation (not implemented) and pass after the tutorial code', async () => {
    const before = await vitest();
    expect(before.code).not.toBe(0);
    const failed = before.results.filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(EXAMPLES.length);
    for (const f of failed) expect(f.failure).toMatch(/not implemented/);
    expect(before.results.filter((r) => r.status === 'passed')).toHaveLength(EXAMPLES.length); // registration checks

    for (const { kind, name, file, fn } of EXAMPLES) {
      const path = join(root, 'plugins', name, file);
      writeFileSync(path, replaceFunction(readFileSync(path, 'utf8'), fn, tutorialSnippet(kind, name)));
    }
    // The generated code with the tutorial's snippets type-checks under the workspace's strict settings
    // (tsc runs beside the second test run).
    writeFileSync(
      join(root, 'tsconfig.check.json'),
      JSON.stringify({
        extends: './tsconfig.base.json',
        compilerOptions: { noEmit: true },
        include: ['plugins/*/src/**/*.ts', 'plugins/*/tests/**/*.ts'],
      }),
    );
    const tsc = join(workspace, 'node_modules', 'typescript', 'bin', 'tsc');
    const typecheck = run(process.execPath, [tsc, '-p', join(root, 'tsconfig.check.json')], { cwd: root }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    const after = await vitest();
    expect(after.results.filter((r) => r.status !== 'passed')).toEqual([]);
    expect(after.results).toHaveLength(2 * EXAMPLES.length);
    expect(after.code).toBe(0);
    expect(await typecheck).toBe('');
  });

  it('oodkit list and eval-features pick up the new postprocessor through configs/plugins/margin.yml', async () => {
    const config = join(root, 'configs', 'plugins', 'margin.yml');
    const listed = JSON.parse((await oodkit(['list', 'postprocessor', '--json', '--config', config])).stdout) as {
      components: { postprocessor: { name: string; provider: string; grid: Record<string, unknown[]> }[] };
    };
    const margin = listed.components.postprocessor.find((p) => p.name === 'margin');
    expect(margin).toMatchObject({ provider: '@oodkit/plugin-margin', grid: { temperature: [0.5, 1, 2] } });

    const { weight, bias, d } = await writeFeatureFolder(join(root, 'features'));
    const out = join(root, 'out');
    await oodkit([
      'eval-features',
      '--features',
      join(root, 'features'),
      '--postprocessor',
      'margin',
      '--config',
      config,
      '--aps',
      '--out',
      out,
      '--compute.backend=cpu',
    ]);
    const result = JSON.parse(readFileSync(join(out, 'margin__metrics.json'), 'utf8')) as { hyperparameters: { temperature: number } };
    const t = result.hyperparameters.temperature;
    expect([0.5, 1, 2]).toContain(t);
    // scores = (top-1 − top-2 logit) / T, logits = zWᵀ + b, recomputed here from the files
    const z = (await readNpy(join(root, 'features', 'test_features.npy'))).data as Float32Array;
    const conf = (await readNpy(join(out, 'margin__test.npy'))).data as Float64Array;
    for (let i = 0; i < conf.length; i++) {
      const logits = [0, 1, 2].map((k) =>
        Array.from({ length: d }, (_, j) => z[i * d + j] * weight[k * d + j]).reduce((a, b) => a + b, bias[k]),
      );
      const [l1, l2] = logits.sort((a, b) => b - a);
      expect(conf[i]).toBeCloseTo((l1 - l2) / t, 4);
    }
  });

  it('the benchmark config with the plugin validates; without plugins: the name is unknown', async () => {
    const benchDefault = join(workspace, 'configs', 'bench', 'default.yml');
    const { stdout } = await oodkit(['config', 'check', '--config', benchDefault, join(root, 'configs', 'plugins', 'margin.yml')]);
    expect(stdout.trim()).toBe('ok');
    const without = join(root, 'no-plugin.yml');
    writeFileSync(without, 'bench:\n  postprocessors: [msp, margin]\n');
    const failure = await oodkit(['config', 'check', '--config', benchDefault, without]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/unknown postprocessor 'margin'/);
  });

  it('`nx g @oodkit/nx-plugin:postprocessor` resolves through generators.json (dry run)', async () => {
    const nx = join(workspace, 'node_modules', 'nx', 'dist', 'bin', 'nx.js');
    const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
    const { stdout: raw } = await run(
      process.execPath,
      [nx, 'g', '@oodkit/nx-plugin:postprocessor', 'dry-run-check', '--dry-run', '--skipInstall'],
      { cwd: workspace, env },
    );
    // CI=true makes nx colour its output; compare the text only.
    // eslint-disable-next-line no-control-regex
    const stdout = raw.replace(/\u001b\[[0-9;]*m/g, '');
    expect(stdout).toContain('CREATE plugins/dry-run-check/src/dry-run-check.ts');
    expect(stdout).toContain('CREATE configs/plugins/dry-run-check.yml');
    expect(existsSync(join(workspace, 'plugins', 'dry-run-check'))).toBe(false);
  });
});
