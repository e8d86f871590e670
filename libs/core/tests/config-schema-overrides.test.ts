import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  UsageError,
  assertWritableDir,
  binaryContentReason,
  componentObjectSchema,
  defineComponent,
  libraryModule,
  loadRun,
  readConfigFile,
  schemaSection,
  type ConfigSection,
} from '../src/index.js';
import { writeFiles } from './fixtures/write-files.js';

/**
 * Overrides are checked against each section's full schema (issue 13, "Foundation II"): a section shaped
 * like `sio:` — defaults, an enum, a union of a file pair and a {name, args, count} component reference —
 * with nothing set in the files must still take every key from the command line.
 */
const generator = defineComponent({
  kind: 'generator',
  name: 'gen',
  description: 'test generator',
  args: z.strictObject({ epochs: z.int().positive().default(3), hidden: z.int().default(8) }),
  create: () => ({}),
});
const streamSchema = z.strictObject({
  enabled: z.boolean().default(true),
  real_ratio: z.number().gt(0).lte(1).default(0.8),
  mode: z.enum(['faithful', 'full']).default('faithful'),
  synthetic: z.union([
    z.strictObject({ images: z.string(), labels: z.string() }),
    componentObjectSchema('generator', { count: z.int().positive() }),
  ]),
});
const stream: ConfigSection = {
  ...schemaSection('stream', streamSchema.optional(), 'a test section shaped like sio'),
  renamed: [
    { from: 'realRatio', to: 'real_ratio', removeIn: '9.9.9' },
    { from: 'synthetic.generator', to: 'synthetic.name', removeIn: '9.9.9' },
  ],
};
const builtins = [libraryModule('test-lib', { components: [generator], sections: [stream] })];

async function load(texts: Record<string, string>, overrides: string[] = [], profiles: string[] = []) {
  const fs = writeFiles(texts);
  const notices: string[] = [];
  const run = await loadRun({
    files: Object.keys(texts)
      .filter((name) => !profiles.includes(name))
      .map((name) => fs.path(name)),
    profiles: profiles.map((name) => fs.path(name)),
    overrides,
    builtins,
    onNotice: (line) => notices.push(line),
  });
  return { value: run.config.value.stream as Record<string, unknown>, notices, fs };
}
const generated = 'stream:\n  synthetic: { name: gen, count: 5 }\n';

describe('schema-driven overrides', () => {
  it('a key no file sets (stream.mode) is typed and checked by the schema', async () => {
    expect((await load({ 'c.yml': generated }, ['--stream.mode=full'])).value.mode).toBe('full');
    await expect(load({ 'c.yml': generated }, ['--stream.mdoe=full'])).rejects.toThrow(
      /unknown key 'stream\.mdoe' \(did you mean 'stream\.mode'\?\)/,
    );
    await expect(load({ 'c.yml': generated }, ['--stream.real_ratio=high'])).rejects.toThrow(/expected a number, got 'high'/);
  });

  it('a whole section from the command line, with no file mentioning it', async () => {
    const { value } = await load({ 'c.yml': '' }, [
      '--stream.synthetic.images=a.npy',
      '--stream.synthetic.labels=b.npy',
      '--stream.mode=full',
    ]);
    expect(value).toEqual({ enabled: true, real_ratio: 0.8, mode: 'full', synthetic: { images: 'a.npy', labels: 'b.npy' } });
  });

  it("component args below a {name, args} reference are typed by the named component's schema", async () => {
    const { value } = await load({ 'c.yml': generated }, ['--stream.synthetic.args.epochs=1']);
    expect(value.synthetic).toEqual({ name: 'gen', count: 5, args: { epochs: 1 } });
    await expect(load({ 'c.yml': generated }, ['--stream.synthetic.args.epochs=x'])).rejects.toThrow(/expected a number, got 'x'/);
    await expect(load({ 'c.yml': generated }, ['--stream.synthetic.args.epoch=1'])).rejects.toThrow(
      /did you mean 'stream\.synthetic\.args\.epochs'/,
    );
  });

  it('a key of the other union alternative starts that alternative afresh', async () => {
    const { value } = await load({ 'c.yml': generated }, ['--stream.synthetic.images=a.npy', '--stream.synthetic.labels=b.npy']);
    expect(value.synthetic).toEqual({ images: 'a.npy', labels: 'b.npy' });
  });

  it('flags passed as typed values name their option in errors', async () => {
    const fs = writeFiles({ 'c.yml': generated });
    const error = await loadRun({
      files: [fs.path('c.yml')],
      overrides: [{ path: 'stream.mode', value: 'fast', origin: '--mode' }],
      builtins,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('command line (--mode): stream.mode:');
  });
});

describe('renamed keys (one general mechanism: a section declares them)', () => {
  it('old spellings in a file are moved, with a deprecation line naming file:line and the new spelling', async () => {
    const { value, notices, fs } = await load({ 'c.yml': 'stream:\n  realRatio: 0.5\n  synthetic: { generator: gen, count: 5 }\n' });
    expect(value).toMatchObject({ real_ratio: 0.5, synthetic: { name: 'gen', count: 5 } });
    expect(notices).toEqual([
      `${fs.path('c.yml')}:2: 'stream.realRatio' is deprecated, write 'stream.real_ratio' (the old spelling is removed in 9.9.9)`,
      `${fs.path('c.yml')}:3: 'stream.synthetic.generator' is deprecated, write 'stream.synthetic.name' (the old spelling is removed in 9.9.9)`,
    ]);
  });

  it('a later file in the old spelling still wins over an earlier one in the new spelling; both in one file is an error', async () => {
    const merged = await load({ 'a.yml': `${generated}  real_ratio: 0.9\n`, 'b.yml': 'stream:\n  realRatio: 0.4\n' });
    expect(merged.value.real_ratio).toBe(0.4);
    await expect(load({ 'c.yml': `${generated}  real_ratio: 0.9\n  realRatio: 0.4\n` })).rejects.toThrow(
      /'stream\.realRatio' and its new spelling 'stream\.real_ratio' are both set/,
    );
  });

  it('old spellings on the command line are renamed too', async () => {
    const { value, notices } = await load({ 'c.yml': generated }, ['--stream.realRatio=0.3']);
    expect(value.real_ratio).toBe(0.3);
    expect(notices[0]).toMatch(/command line: '--stream\.realRatio' is deprecated, write '--stream\.real_ratio'/);
  });
});

describe('profiles', () => {
  it('adjust the settings a config has, never add a section, and only keys of the alternative the value is', async () => {
    const profile = 'stream:\n  synthetic: { count: 2, args: { epochs: 1 } }\n  mode: full\n';
    const withGenerator = await load({ 'c.yml': generated, 'p.yml': profile }, [], ['p.yml']);
    expect(withGenerator.value).toMatchObject({ mode: 'full', synthetic: { name: 'gen', count: 2, args: { epochs: 1 } } });
    const pair = await load({ 'c.yml': 'stream:\n  synthetic: { images: a.npy, labels: b.npy }\n', 'p.yml': profile }, [], ['p.yml']);
    expect(pair.value.synthetic).toEqual({ images: 'a.npy', labels: 'b.npy' });
    expect(pair.notices.join('\n')).toMatch(/'stream\.synthetic\.count' left out/);
    const none = await load({ 'c.yml': 'seed: 1\n', 'p.yml': 'stream:\n  mode: full\n' }, [], ['p.yml']);
    expect(none.value).toBeUndefined();
  });
});

describe('bad input files and folders', () => {
  it('binary content is named in one line: .npy, NUL bytes, not UTF-8', () => {
    expect(binaryContentReason(Buffer.from('\x93NUMPY\x01\x00', 'latin1'))).toMatch(/NumPy \.npy array/);
    expect(binaryContentReason(Buffer.from([0x61, 0x00]))).toMatch(/NUL bytes/);
    expect(binaryContentReason(Buffer.from([0x61, 0xff, 0xfe]))).toMatch(/not UTF-8/);
    expect(binaryContentReason(Buffer.from('seed: 1\nname: "é"\n'))).toBeUndefined();
    const fs = writeFiles({ 'x.yml': 'a: 1\n' });
    writeFileSync(fs.path('big.npy'), Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.alloc(430_000)]));
    const parsed = readConfigFile(fs.path('big.npy'));
    expect('issues' in parsed && parsed.issues).toEqual([
      { path: '', file: fs.path('big.npy'), message: 'is a NumPy .npy array, not a YAML config' },
    ]);
  });

  it('assertWritableDir names the option for a file, a file on the way, a read-only folder', () => {
    const fs = writeFiles({ 'file.txt': 'x' });
    expect(() => assertWritableDir(fs.path('new/run'), '--out')).not.toThrow();
    expect(() => assertWritableDir(fs.path('file.txt'), '--out')).toThrow(
      new UsageError(`--out: '${fs.path('file.txt')}' is a file, expected a folder`),
    );
    expect(() => assertWritableDir(join(fs.path('file.txt'), 'run'), 'OODKIT_CACHE_DIR')).toThrow(
      /^OODKIT_CACHE_DIR: cannot create '.*file\.txt\/run': '.*file\.txt' is a file, not a folder$/,
    );
    if (process.getuid?.() === 0) return; // root writes through mode bits; apps/cli/tests/options.test.ts runs that case as nobody
    mkdirSync(fs.path('ro'));
    chmodSync(fs.path('ro'), 0o555);
    try {
      expect(() => assertWritableDir(fs.path('ro/run'), '--out')).toThrow(/--out: '.*ro' is not writable/);
    } finally {
      chmodSync(fs.path('ro'), 0o755);
    }
  });
});
