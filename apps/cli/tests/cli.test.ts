import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPONENT_KINDS } from '@oodkit/core';
import { main } from '../src/main.js';
import { captureOutput } from './capture-output.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const example = (name: string) => `${root}configs/examples/${name}`;
const EXAMPLES = ['dataset_mnist.yml', 'network_lenet.yml', 'postprocessor_msp.yml'].map(example);

const io = captureOutput();

describe('oodkit config', { timeout: 60_000 }, () => {
  it('print resolves references that use an overridden value (3 files + --dataset.num_classes=7)', async () => {
    expect(await main(['config', 'print', '--config', ...EXAMPLES, '--dataset.num_classes=7'])).toBe(0);
    const printed = parse(io.out) as Record<string, Record<string, unknown>>;
    expect(printed.dataset!.num_classes).toBe(7);
    expect(printed.network).toEqual({ name: 'lenet', args: { num_classes: 7, in_channels: 1 } });
    expect(printed.exp_name).toBe('mnist_lenet_msp_c7_s0');
    expect(printed.seed).toBe(0);
  });

  it('print --no-defaults shows only what was written; overrides given as --key value', async () => {
    expect(await main(['config', 'print', '--no-defaults', '--config', ...EXAMPLES, '--seed', '5'])).toBe(0);
    const printed = parse(io.out) as Record<string, unknown>;
    expect(printed.output_dir).toBeUndefined();
    expect(printed.postprocessor).toEqual({ name: 'msp' });
    expect(printed.exp_name).toBe('mnist_lenet_msp_c10_s5');
  });

  it('print --sources annotates each key with the file:line or command line that set it', async () => {
    expect(await main(['config', 'print', '--sources', '--config', ...EXAMPLES, '--dataset.num_classes=7'])).toBe(0);
    expect(io.out).toContain('  num_classes: 7 # command line\n');
    expect(io.out).toContain(`  name: lenet # ${EXAMPLES[1]}:4\n`);
    expect(io.out).toContain('output_dir: results # default\n');
    expect(io.out).toContain('  args: {} # default\n');
    // still the same YAML value
    expect((parse(io.out) as { network: unknown }).network).toEqual({ name: 'lenet', args: { num_classes: 7, in_channels: 1 } });
  });

  it('check prints ok for a valid config', async () => {
    expect(await main(['config', 'check', '--config', ...EXAMPLES])).toBe(0);
    expect(io.out.trim()).toBe('ok');
  });

  it('check reports all three mistakes with file:line and exits 2', async () => {
    expect(await main(['config', 'check', '--config', fixture('three-mistakes.yml')])).toBe(2);
    expect(io.out).toBe('');
    expect(io.err).toMatch(/3 problems/);
    expect(io.err).toContain(`${fixture('three-mistakes.yml')}:5: seed:`);
    expect(io.err).toContain(`three-mistakes.yml:9: network.args.num_clases: unknown key 'num_clases' (did you mean 'num_classes'?)`);
    expect(io.err).toContain(`three-mistakes.yml:10: postprocesor: unknown top-level key 'postprocesor' (did you mean 'postprocessor'?)`);
  });

  it('an unknown override key is a usage error with a suggestion', async () => {
    expect(await main(['config', 'print', '--config', ...EXAMPLES, '--dataset.num_clases=7'])).toBe(2);
    expect(io.err).toContain("command line: dataset.num_clases: unknown key 'dataset.num_clases' (did you mean 'dataset.num_classes'?)");
  });

  it('a wrongly typed override is reported', async () => {
    expect(await main(['config', 'check', '--config', ...EXAMPLES, '--dataset.num_classes=many'])).toBe(2);
    expect(io.err).toContain("expected a number, got 'many'");
  });

  it('missing --config, a missing file and a stray argument are usage errors', async () => {
    expect(await main(['config', 'check'])).toBe(2);
    expect(await main(['config', 'check', '--config', fixture('nope.yml')])).toBe(2);
    expect(io.err).toMatch(/nope\.yml: file not found/);
    expect(await main(['config', 'check', '--config', ...EXAMPLES, '--seed=1', 'stray'])).toBe(2);
    expect(io.err).toMatch(/unexpected argument 'stray'/);
  });

  it('loads plugins named in the config (relative to that file) before validating', async () => {
    expect(await main(['config', 'print', '--config', fixture('with-plugin.yml'), '--postprocessor.args.factor=8'])).toBe(0);
    const printed = parse(io.out) as Record<string, unknown>;
    expect(printed.postprocessor).toEqual({ name: 'fixture_scaled_max', args: { factor: 8 } });
    expect(printed.fixture).toEqual({ level: 2 });
    expect((printed.plugins as string[])[0]).toBe(`${root}libs/core/tests/fixtures/plugins/good-plugin`);
  });

  it('a plugin that fails to load exits 2 naming it', async () => {
    expect(await main(['config', 'check', '--config', ...EXAMPLES, '--plugins=[./no/such/plugin]'])).toBe(2);
    expect(io.err).toMatch(/plugin '\.\/no\/such\/plugin': not found/);
  });

  it('a runtime failure inside plugin code exits 1', async () => {
    expect(await main(['config', 'print', '--config', ...EXAMPLES, `--plugins=[${fixture('failing-complete-plugin.ts')}]`])).toBe(1);
    expect(io.err).toMatch(/plugin bug/);
  });
});

describe('oodkit list', { timeout: 60_000 }, () => {
  it('shows every kind, with args (type = default) and grids', async () => {
    expect(await main(['list'])).toBe(0);
    for (const kind of COMPONENT_KINDS) expect(io.out).toMatch(new RegExp(`^${kind} \\(`, 'm'));
    expect(io.out).toMatch(/^config keys \(/m);
    expect(io.out).toMatch(/^ {2}lenet — /m);
  });

  it('one kind, including plugin components', async () => {
    expect(await main(['list', 'postprocessor', '--plugin', `${root}libs/core/tests/fixtures/plugins/good-plugin`])).toBe(0);
    expect(io.out).toContain('fixture_scaled_max — max logit times a factor (test plugin)  [oodkit-fixture-good-plugin]');
    expect(io.out).toContain('args: factor: number > 0 = 2');
    expect(io.out).toContain('grid: factor ∈ {1, 2, 4}');
    expect(io.out).not.toMatch(/^network \(/m);
  });

  it('--json gives args with types and defaults, grids and providers', async () => {
    expect(await main(['list', 'postprocessor', '--json', '--config', fixture('with-plugin.yml')])).toBe(0);
    const listed = JSON.parse(io.out) as {
      components: Record<string, { name: string; args: unknown[]; grid: unknown; provider: string }[]>;
    };
    const entry = listed.components.postprocessor!.find((c) => c.name === 'fixture_scaled_max')!;
    expect(entry.args).toEqual([{ name: 'factor', type: 'number', default: 2, required: false, constraints: ['> 0'] }]);
    expect(entry.grid).toEqual({ factor: [1, 2, 4] });
    expect(entry.provider).toBe('oodkit-fixture-good-plugin');
  });

  it('keys --json lists every top-level key with its owner and JSON schema', async () => {
    expect(await main(['list', 'keys', '--json'])).toBe(0);
    const { keys } = JSON.parse(io.out) as { keys: { key: string; provider: string; schema?: { default?: unknown; type?: string } }[] };
    const seed = keys.find((k) => k.key === 'seed')!;
    expect(seed.provider).toBe('@oodkit/core');
    expect(seed.schema).toMatchObject({ type: 'integer', default: 0 });
    expect(keys.map((k) => k.key)).toEqual(expect.arrayContaining(['network', 'postprocessor', 'plugins', 'dataset']));
  });

  it('an unknown kind is a usage error with a suggestion', async () => {
    expect(await main(['list', 'postprocesor'])).toBe(2);
    expect(io.err).toMatch(/unknown kind 'postprocesor' \(did you mean 'postprocessor'\?\)/);
  });
});

describe('help', () => {
  it.each([[['--help']], [['list', '--help']], [['config', '--help']], [['config', 'print', '--help']], [['config', 'check', '--help']]])(
    '%j exits 0 and prints usage',
    async (argv) => {
      expect(await main(argv)).toBe(0);
      expect(io.out).toMatch(/Usage: oodkit/);
    },
  );

  it('config commands document overrides', async () => {
    await main(['config', 'print', '--help']);
    expect(io.out).toMatch(/--dataset\.num_classes=7/);
  });
});

// Each spawn starts tsx and imports every library (tfjs included): seconds on a loaded machine.
describe('the oodkit binary (real process)', { timeout: 90_000 }, () => {
  const bin = `${root}apps/cli/bin/oodkit.js`;
  const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });

  it('config check on a config with three mistakes reports all three and exits 2', () => {
    const result = run(['config', 'check', '--config', 'apps/cli/tests/fixtures/three-mistakes.yml']);
    expect(result.status).toBe(2);
    const problems = result.stderr.split('\n').filter((line) => line.startsWith('  - apps/cli/tests/fixtures/three-mistakes.yml:'));
    expect(problems.map((line) => line.split(':')[1])).toEqual(['5', '9', '10']);
  });

  it('config print with 3 files and an override exits 0 with the resolved YAML', () => {
    const result = run(['config', 'print', '--config', ...EXAMPLES.map((f) => f.slice(root.length)), '--dataset.num_classes', '7']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect((parse(result.stdout) as { network: unknown }).network).toEqual({ name: 'lenet', args: { num_classes: 7, in_channels: 1 } });
  });
});
