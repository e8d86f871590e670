import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Rng, writeNpy } from '@oodkit/core';
import { standardSyntheticLayout, syntheticFeatures, writeFeatureFolder } from '@oodkit/evaluators';
import { main } from '../src/main.js';
import { captureOutput } from './capture-output.js';

/**
 * The options layer: the same option names on every command, overrides of any key, numbers and folders
 * checked before any work. Each case here is a bullet of issue 13's "What was seen".
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = `${root}apps/cli/bin/oodkit.js`;
const config = (path: string) => `${root}configs/${path}`;
const io = captureOutput();

let dir: string;
let features: string;
let aFile: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oodkit-cli-options-'));
  chmodSync(dir, 0o755);
  features = join(dir, 'features');
  const { spec, roles } = standardSyntheticLayout(0.4);
  const data = syntheticFeatures(Rng.fromSeed(3), { numClasses: 4, featureDim: 8, separation: 2.5, ...spec });
  await writeFeatureFolder(features, { finalLayer: data.finalLayer, splits: data.splits, roles });
  aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'not a folder\n');
});
afterAll(() => {
  for (const entry of readdirSync(dir)) chmodSync(join(dir, entry), 0o755);
  rmSync(dir, { recursive: true, force: true });
});

/** Every command that writes a run folder, with the least it needs to get past its own checks. */
const RUN_FOLDER_COMMANDS: [string, string[]][] = [
  ['train', ['train', '-c', config('train/lenet_base.yml')]],
  ['bench', ['bench']],
  ['run', ['run', '-c', config('pipelines/test_acc.yml')]],
  ['feat-extract', ['feat-extract', '--checkpoint', 'x.ckpt', '--benchmark', 'mnist']],
  ['eval-features', ['eval-features', '--features', 'FEATURES', '--postprocessor', 'msp']],
  ['test-ood', ['test-ood', '--checkpoint', 'x.ckpt', '--benchmark', 'mnist', '--postprocessor', 'msp']],
  [
    'eval',
    [
      'eval',
      '--checkpoint',
      'x.pth',
      '--network',
      'lenet',
      '--benchmark',
      'mnist',
      '--data_dir',
      'data',
      '--postprocessor',
      'all',
      '--aps',
    ],
  ],
  ['eval (features)', ['eval', '--features', 'FEATURES', '--postprocessor', 'msp']],
];
const withFeatures = (argv: string[]) => argv.map((a) => (a === 'FEATURES' ? features : a));

describe('one options layer for every command', { timeout: 60_000 }, () => {
  it.each(RUN_FOLDER_COMMANDS)(
    '%s takes -o/--out, --profile and --a.b=value overrides; an --out that is a file is refused before any work, naming --out',
    async (_name, argv) => {
      expect(await main([...withFeatures(argv), '--seed=3', '--profile', 'quick', '-o', aFile])).toBe(2);
      expect(io.err).toContain(`--out: '${aFile}' is a file, expected a folder`);
      expect(io.err).not.toMatch(/compute backend|unknown key|unexpected argument/);
    },
  );

  it('an --out below a file is refused the same way (ENOTDIR before)', async () => {
    expect(await main(['train', '-c', config('train/lenet_base.yml'), '--out', join(aFile, 'run')])).toBe(2);
    expect(io.err).toContain(`--out: cannot create '${join(aFile, 'run')}': '${aFile}' is a file, not a folder`);
  });

  it('an output_dir from a config file that is a file is named with its file:line', async () => {
    const file = join(dir, 'bad-output.yml');
    writeFileSync(file, `output_dir: ${aFile}\n`);
    expect(await main(['train', '-c', config('train/lenet_base.yml'), file])).toBe(2);
    expect(io.err).toContain(`output_dir (${file}:1): '${aFile}' is a file, expected a folder`);
  });

  it('OODKIT_CACHE_DIR that is a file is refused before any work, naming the variable', async () => {
    const before = process.env.OODKIT_CACHE_DIR;
    process.env.OODKIT_CACHE_DIR = aFile;
    try {
      expect(await main(['train', '-c', config('train/lenet_base.yml'), '--out', join(dir, 'cache-run')])).toBe(2);
      expect(io.err).toContain(`OODKIT_CACHE_DIR: '${aFile}' is a file, expected a folder`);
      expect(existsSync(join(dir, 'cache-run'))).toBe(false);
    } finally {
      if (before === undefined) delete process.env.OODKIT_CACHE_DIR;
      else process.env.OODKIT_CACHE_DIR = before;
    }
  });

  it('eval-features takes the config keys --output_dir/--exp_name, --seed and --compute.backend like any command', async () => {
    const argv = ['eval-features', '--features', features, '--postprocessor', 'msp', '--log_level=warn'];
    expect(await main([...argv, `--output_dir=${dir}`, '--exp_name=ef', '--seed=2', '--compute.backend=cpu'])).toBe(0);
    expect(existsSync(join(dir, 'ef', 'msp__metrics.csv'))).toBe(true);
    expect((parse(readFileSync(join(dir, 'ef', 'config.yml'), 'utf8')) as { seed: number }).seed).toBe(2);
    // the old --backend still works for one release, with a line saying what to write
    expect(await main([...argv, '--out', join(dir, 'ef-old'), '--backend', 'cpu'])).toBe(0);
    expect(io.err).toMatch(/'--backend' is deprecated, write '--compute\.backend' \(the old spelling is removed in 0\.2\.0\)/);
  });

  it('train takes -c like every command (it rejected it before)', async () => {
    expect(await main(['train', '-c', config('train/lenet_base.yml'), '--train.epochs=abc'])).toBe(2);
    expect(io.err).toContain("train.epochs: expected a number, got 'abc'");
  });

  it('config print takes --profile (quick adjusts the sections a config has and adds none)', async () => {
    expect(await main(['config', 'print', '-c', config('bench/default.yml'), '--profile', 'quick'])).toBe(0);
    const bench = parse(io.out) as {
      output_dir: string;
      bench: { seeds: number[] };
      train: { epochs: number };
      sio: { synthetic: { count: number } };
    };
    expect([bench.output_dir, bench.bench.seeds, bench.train.epochs, bench.sio.synthetic.count]).toEqual(['results/quick', [0], 3, 10000]);
    io.out = '';
    expect(await main(['config', 'print', '--no-defaults', '-c', config('train/lenet_base.yml'), '--profile', 'quick'])).toBe(0);
    const plain = parse(io.out) as Record<string, unknown>;
    expect(plain.sio).toBeUndefined(); // a profile never switches SIO on
    expect((plain.train as { epochs: number }).epochs).toBe(3);
    expect(io.err).toMatch(/quick\.yml: 'sio' left out/);
  });

  it('data takes the config keys --data_dir/--cache_dir; --data-dir still works with a deprecation line', async () => {
    const images = join(dir, 'images.npy');
    await writeNpy(images, { data: new Uint8Array(2 * 8 * 8), shape: [2, 8, 8] });
    await writeNpy(join(dir, 'labels.npy'), { data: new Int32Array([0, 1]) });
    expect(await main(['data', 'info', images, `--data_dir=${dir}`])).toBe(0);
    expect(io.out).toMatch(/count\s+2/);
    expect(await main(['data', 'info', images, '--data-dir', dir])).toBe(0);
    expect(io.err).toMatch(/'--data-dir' is deprecated, write '--data_dir'/);
  });
});

describe('numbers and files are checked before any work', { timeout: 60_000 }, () => {
  it('eval-features --seed abc: exit 2 naming the key and echoing the text, before the backend starts', async () => {
    expect(await main(['eval-features', '--features', features, '--postprocessor', 'msp', '--seed', 'abc'])).toBe(2);
    expect(io.err).toContain("command line: seed: expected a number, got 'abc'");
    expect(io.err).not.toMatch(/compute backend|TypeError|at /);
  });

  it.each([
    [['metrics', '--id', 'a.npy', '--ood', 'b.npy', '--tpr', 'abc'], "--tpr expects a number > 0 and ≤ 1, got 'abc'"],
    [['metrics', '--id', 'a.npy', '--ood', 'b.npy', '--tpr', '1.5'], "got '1.5'"],
    [['feat-extract', '--checkpoint', 'x.ckpt', '--batch-size', '0'], "--batch-size expects an integer ≥ 1, got '0'"],
    [['eval-features', '--features', 'f', '--postprocessor', 'msp', '--batch-size', '12x'], "got '12x'"],
    [['data', 'preview', 'x.npy', '-o', 'g.png', '--cols', 'two'], "--cols expects an integer ≥ 1, got 'two'"],
  ])('%j → exit 2', async (argv, message) => {
    expect(await main(argv)).toBe(2);
    expect(io.err).toContain(message);
  });

  it('config check --config some.npy says in one line that it is not a YAML file', async () => {
    const npy = join(dir, 'some.npy');
    await writeNpy(npy, { data: new Float32Array(100_000) });
    expect(await main(['config', 'check', '--config', npy])).toBe(2);
    expect(io.err).toContain(`${npy}: is a NumPy .npy array, not a YAML config`);
    // (node's own warnings, e.g. about file handles closed by the GC, are not oodkit's output)
    const ours = io.err.split('\n').filter((line) => line.startsWith('oodkit:') || line.startsWith('  - '));
    expect(ours.join('\n').length).toBeLessThan(300);
    const blob = join(dir, 'blob.yml');
    writeFileSync(blob, Buffer.from([0x61, 0x3a, 0x00, 0x01, 0xff]));
    expect(await main(['config', 'check', '--config', blob])).toBe(2);
    expect(io.err).toContain(`${blob}: is a binary file (it contains NUL bytes), not a YAML config`);
  });

  // Read-only folders: root writes through mode bits, so as root the CLI runs as `nobody`.
  const asRoot = process.getuid?.() === 0;
  const oodkitAs = (args: string[], env: Record<string, string> = {}) => {
    const tmp = join(dir, 'child-tmp');
    mkdirSync(tmp, { recursive: true });
    chmodSync(tmp, 0o777);
    return spawnSync(process.execPath, [bin, ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, TMPDIR: tmp, ...env },
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
  };

  it('a read-only --out (eval-features) and a read-only OODKIT_CACHE_DIR (train) are refused before any work', () => {
    const ro = join(dir, 'read-only');
    mkdirSync(ro, { recursive: true });
    chmodSync(ro, 0o555);
    const ef = oodkitAs(['eval-features', '--features', features, '--postprocessor', 'msp', '--out', join(ro, 'out')]);
    expect(ef.stderr).toContain(`--out: '${ro}' is not writable, so '${join(ro, 'out')}' cannot be created there`);
    expect(ef.status).toBe(2);
    expect(ef.stderr).not.toMatch(/compute backend|EACCES/);
    const tr = oodkitAs(['train', '-c', config('train/lenet_base.yml'), '--out', join(dir, 'child-tmp', 'run')], {
      OODKIT_CACHE_DIR: join(ro, 'cache'),
    });
    expect(tr.stderr).toContain(`OODKIT_CACHE_DIR: '${ro}' is not writable`);
    expect(tr.status).toBe(2);
  });
});

describe('overrides are checked against the full schema, not the keys the files contain', { timeout: 60_000 }, () => {
  const print = async (argv: string[]) => {
    io.out = '';
    const code = await main(['config', 'print', '-c', config('bench/default.yml'), ...argv]);
    return { code, value: code === 0 ? (parse(io.out) as { sio: Record<string, unknown> }) : undefined };
  };

  it('--sio.mode=full-real-coverage on configs/bench/default.yml (no mode in the file)', async () => {
    const { code, value } = await print(['--sio.mode=full-real-coverage']);
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(value!.sio.mode).toBe('full-real-coverage');
  });

  it("--sio.synthetic.args.epochs=1 reaches the generator's own args, typed by its schema", async () => {
    const { value } = await print(['--sio.synthetic.args.epochs=1']);
    expect((value!.sio.synthetic as { args: { epochs: number } }).args.epochs).toBe(1);
    expect((await print(['--sio.synthetic.args.epochs=one'])).code).toBe(2);
    expect(io.err).toContain("sio.synthetic.args.epochs: expected a number, got 'one'");
    expect((await print(['--sio.synthetic.args.epoch=1'])).code).toBe(2);
    expect(io.err).toContain("did you mean 'sio.synthetic.args.epochs'");
  });

  it('--sio.synthetic.images/labels switch the generator source to a .npy pair', async () => {
    const { value } = await print(['--sio.synthetic.images=a.npy', '--sio.synthetic.labels=b.npy']);
    expect(value!.sio.synthetic).toEqual({ images: 'a.npy', labels: 'b.npy' });
  });

  it('a key under a benchmark given by name (benchmark: mnist) edits that benchmark', async () => {
    const { value } = await print(['--benchmark.ood.far.0.dataset.args.count=10']);
    const far = (value as unknown as { benchmark: { ood: { far: { dataset: { args: { count: number } } }[] } } }).benchmark.ood.far;
    expect(far[0]!.dataset.args.count).toBe(10);
  });

  it('old spellings are read with a deprecation line naming file:line and the new spelling', async () => {
    const file = join(dir, 'old-spellings.yml');
    writeFileSync(file, 'sio:\n  realRatio: 0.5\n  synthetic: { generator: cvae, count: 100 }\n');
    const { value } = await print([file, '--sio.extraPercent=50']);
    expect(value!.sio).toMatchObject({ real_ratio: 0.5, extra_percent: 50, synthetic: { name: 'cvae', count: 100 } });
    expect(io.err).toContain(`${file}:2: 'sio.realRatio' is deprecated, write 'sio.real_ratio' (the old spelling is removed in 0.2.0)`);
    expect(io.err).toContain(`${file}:3: 'sio.synthetic.generator' is deprecated, write 'sio.synthetic.name'`);
    expect(io.err).toContain("command line: '--sio.extraPercent' is deprecated, write '--sio.extra_percent'");
  });

  it("a file's mapping of another union alternative replaces the earlier file's (sio.synthetic files over generator)", async () => {
    // bench merges configs/bench/default.yml (generator form) before the user's files (here: the files form)
    const { code, value } = await print([config('benchmarks/cifar10_sio.yml')]);
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(value!.sio.synthetic).toEqual({
      images: './data/images_classic/cifar10_extra/stylegan/images.npy',
      labels: './data/images_classic/cifar10_extra/stylegan/labels.npy',
    });
    const generator = join(dir, 'generator-again.yml');
    writeFileSync(generator, 'sio:\n  synthetic: { name: cvae, count: 10 }\n');
    const back = await print([config('benchmarks/cifar10_sio.yml'), generator]);
    expect(back.value!.sio.synthetic).toMatchObject({ name: 'cvae', count: 10 });
    expect(back.value!.sio.synthetic).not.toHaveProperty('images');
  });

  it('input paths are checked before the backend starts: exit 2 naming the flag', async () => {
    const file = join(dir, 'not-a-folder.txt');
    writeFileSync(file, 'x');
    io.err = '';
    expect(await main(['eval-features', '--features', file, '--postprocessor', 'msp'])).toBe(2);
    expect(io.err).toContain(`--features ${file}: expected a feature folder, found a file`);
    expect(io.err).not.toContain('compute backend');
    io.err = '';
    expect(await main(['eval-features', '--features', dir, '--postprocessor', 'msp'])).toBe(2);
    expect(io.err).toContain('not a feature folder (no splits.yml');
    io.err = '';
    expect(await main(['feat-extract', '--checkpoint', join(dir, 'missing.ckpt'), '--benchmark', 'mnist'])).toBe(2);
    expect(io.err).toContain('--checkpoint');
    expect(io.err).toContain('no such file');
  });

  it('--grid.K=[...] is --postprocessor.grid.K=[...]', async () => {
    expect(await main(['config', 'check', '-c', config('pipelines/test_ood.yml'), '--grid.K=[1,2]'])).toBe(2);
    expect(io.err).toContain('postprocessor.grid.K');
  });
  it("--postprocessor.name=knn --grid.K=[10,20] sets postprocessor.grid.K (validated against knn's args)", async () => {
    io.out = '';
    const argv = ['config', 'print', '-c', config('pipelines/test_ood.yml'), '--postprocessor.name=knn', '--grid.K=[10,20]'];
    expect(await main(argv)).toBe(0);
    const value = parse(io.out) as { postprocessor: { name: string; grid: Record<string, unknown> } };
    expect(value.postprocessor).toMatchObject({ name: 'knn', grid: { K: [10, 20] } });
    io.err = '';
    expect(await main(['config', 'check', '-c', config('pipelines/test_ood.yml'), '--postprocessor.name=knn', '--grid.K=[0]'])).toBe(2);
    expect(io.err).toContain('postprocessor.grid.K');
  });
});
