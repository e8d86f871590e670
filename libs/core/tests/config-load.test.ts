import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  applyOverrides,
  loadConfig,
  parseOverrideArgs,
  readConfigFiles,
  resolveReferences,
  schemaBelow,
  type ConfigIssue,
} from '../src/index.js';
import { writeFiles } from './fixtures/write-files.js';

function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** Loads in-memory YAML texts as files, in order. */
function load(texts: string[], overrides: string[] = [], schema?: Parameters<typeof loadConfig>[0]['schema']) {
  const fs = writeFiles(Object.fromEntries(texts.map((text, i) => [`f${i}.yml`, text])));
  return loadConfig({ files: texts.map((_, i) => fs.path(`f${i}.yml`)), overrides, ...(schema ? { schema } : {}) });
}

describe('merge', () => {
  it('merges leaf by leaf, later files win, lists are replaced whole', () => {
    const { value } = load(['a: {b: 1, c: 2, list: [1, 2, 3]}\nkeep: x\n', 'a:\n  c: 20\n  d: 4\n  list: [9]\n']);
    expect(value).toEqual({ a: { b: 1, c: 20, d: 4, list: [9] }, keep: 'x' });
  });

  it('a scalar replaces a mapping and vice versa; null replaces too', () => {
    const { value } = load(['a: {b: 1}\nc: 5\nd: 1\n', 'a: 3\nc: {x: 1}\nd: null\n']);
    expect(value).toEqual({ a: 3, c: { x: 1 }, d: null });
  });

  it('records the file and line where each key was last set', () => {
    const fs = writeFiles({ 'base.yml': 'a:\n  b: 1\n  c: 2\nlist:\n  - 1\n  - 2\n', 'over.yml': '# comment\na:\n  c: 3\nlist: [7]\n' });
    const loaded = readConfigFiles([fs.path('base.yml'), fs.path('over.yml')]);
    expect(loaded.sources.get('a.b')).toEqual({ file: fs.path('base.yml'), line: 2 });
    expect(loaded.sources.get('a.c')).toEqual({ file: fs.path('over.yml'), line: 3 });
    expect(loaded.sources.get('list')).toEqual({ file: fs.path('over.yml'), line: 4 });
    // the replaced list's old items are forgotten; the new item is located
    expect(loaded.sources.get('list.1')).toBeUndefined();
    expect(loaded.sources.get('list.0')?.file).toBe(fs.path('over.yml'));
    expect(loaded.sources.locate('a.c.deeper.still')).toEqual({ file: fs.path('over.yml'), line: 3 });
  });

  it('an empty file is an empty mapping', () => {
    expect(load(['', 'a: 1\n']).value).toEqual({ a: 1 });
  });
});

describe('YAML errors', () => {
  it('malformed YAML names the file and line', () => {
    const issues = issuesOf(() => load(['a: 1\nb: [1, 2\nc: 3\n']));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]!.file).toMatch(/f0\.yml$/);
    expect(issues[0]!.line).toBe(3);
    expect(issues[0]!.message).toMatch(/invalid YAML/);
  });

  it('duplicate keys are errors with their line', () => {
    const issues = issuesOf(() => load(['a: 1\nb: 2\na: 3\n']));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 3 });
    expect(issues[0]!.message).toMatch(/unique/);
  });

  it('custom tags are refused with file:line, all of them', () => {
    const issues = issuesOf(() => load(['a: 1\nb: !foo bar\nc: !!python/object:os.system {}\nd: !!binary aGk=\n']));
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ]);
    expect(issues[1]!.message).toMatch(/tag '!!python\/object:os.system' is not allowed/);
    expect(issues[0]!.message).toMatch(/tag '!foo' is not allowed/);
  });

  it('problems in several files are reported together', () => {
    const fs = writeFiles({ 'a.yml': 'x: [\n', 'b.yml': 'y: !bad 1\n' });
    const issues = issuesOf(() => readConfigFiles([fs.path('a.yml'), fs.path('missing.yml'), fs.path('b.yml')]));
    expect(issues.map((i) => i.file)).toEqual([fs.path('a.yml'), fs.path('missing.yml'), fs.path('b.yml')]);
    expect(issues[1]!.message).toBe('file not found');
  });

  it('a top-level list and dotted keys are refused', () => {
    expect(issuesOf(() => load(['- 1\n- 2\n']))[0]!.message).toMatch(/must be a mapping/);
    expect(issuesOf(() => load(['a.b: 1\n']))[0]!.message).toMatch(/no '\.'/);
  });
});

describe('references', () => {
  it('resolve everywhere: nested, in lists, in strings; exactly-one keeps the type', () => {
    const { value } = load([
      [
        'dataset: {num_classes: 10, name: cifar10, mean: [0.5, 0.4]}',
        'network: {num_classes: "@{dataset.num_classes}", norm: "@{dataset.mean}"}',
        'sizes: [1, "@{dataset.num_classes}", "n@{dataset.num_classes}"]',
        'exp_name: "@{dataset.name}_c@{dataset.num_classes}_@{flag}"',
        'flag: true',
        'copy: "@{dataset}"',
      ].join('\n'),
    ]);
    expect(value.network).toEqual({ num_classes: 10, norm: [0.5, 0.4] });
    expect(value.sizes).toEqual([1, 10, 'n10']);
    expect(value.exp_name).toBe('cifar10_c10_true');
    expect(value.copy).toEqual({ num_classes: 10, name: 'cifar10', mean: [0.5, 0.4] });
    // a copy, not a shared object
    expect(value.copy).not.toBe(value.dataset);
  });

  it('resolve transitively and through a referenced mapping', () => {
    const { value } = load(['a: "@{b}"\nb: "@{c.d}"\nc: {d: 3}\npreset: {depth: 18}\nmodel: "@{preset}"\ndepth: "@{model.depth}"\n']);
    expect(value).toMatchObject({ a: 3, b: 3, depth: 18 });
  });

  it('are resolved after overrides, so overrides propagate', () => {
    const { value } = load(['dataset: {num_classes: 10}\nnetwork: {num_classes: "@{dataset.num_classes}"}\n'], ['--dataset.num_classes=7']);
    expect(value.network).toEqual({ num_classes: 7 });
  });

  it('@@{ is a literal @{', () => {
    const { value } = load(['a: "@@{not.a.ref} and @{b}"\nb: 1\n']);
    expect(value.a).toBe('@{not.a.ref} and 1');
  });

  it('a cycle is an error naming the chain', () => {
    const issues = issuesOf(() => load(['a: {b: "@{c.d}"}\nc: {d: "@{a.b}"}\n']));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toBe('reference cycle: a.b -> c.d -> a.b');
    expect(issues[0]!.line).toBe(1);
  });

  it('a self-containing reference is a cycle', () => {
    expect(issuesOf(() => load(['a: {b: "@{a}"}\n']))[0]!.message).toBe('reference cycle: a -> a.b -> a');
  });

  it('a dangling reference names the referring key, the missing key and the closest one', () => {
    const issues = issuesOf(() => load(['dataset: {num_classes: 10}\nnet:\n  n: "@{dataset.num_clases}"\n  m: "@{nowhere}"\n']));
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['net.n', 3],
      ['net.m', 4],
    ]);
    expect(issues[0]!.message).toBe(
      "@{dataset.num_clases} refers to a missing key 'dataset.num_clases' (did you mean 'dataset.num_classes'?)",
    );
  });

  it('mappings cannot be interpolated into strings; malformed references are errors', () => {
    expect(issuesOf(() => load(['a: {x: 1}\nb: "pre @{a}"\n']))[0]!.message).toMatch(/is a mapping and cannot be inserted/);
    expect(issuesOf(() => load(['b: "@{a b}"\n']))[0]!.message).toMatch(/malformed reference/);
    expect(issuesOf(() => load(['b: "@{a"\n']))[0]!.message).toMatch(/unterminated/);
  });

  it('references inside list items of a list item resolve', () => {
    const loaded = readConfigFiles([]);
    loaded.value = { k: 2, grid: [[1, '@{k}'], { x: '@{k}' }] };
    expect(resolveReferences(loaded).value.grid).toEqual([[1, 2], { x: 2 }]);
  });
});

describe('overrides', () => {
  const base = 'train: {epochs: 10, lr: 0.1, nesterov: true, name: base, milestones: [1, 2], opt: {m: 0.9}, maybe: null}\n';

  it('parses --a.b=v and --a.b v', () => {
    expect(parseOverrideArgs(['--a.b=1', '--c', 'x', '--d=', '--e', '-1'])).toEqual([
      { path: 'a.b', text: '1' },
      { path: 'c', text: 'x' },
      { path: 'd', text: '' },
      { path: 'e', text: '-1' },
    ]);
    expect(() => parseOverrideArgs(['stray'])).toThrow(/unexpected argument 'stray'/);
    expect(() => parseOverrideArgs(['--a..b=1'])).toThrow(/malformed key/);
  });

  it('coerce to the existing type', () => {
    const { value } = load(
      [base],
      [
        '--train.epochs',
        '3',
        '--train.lr=1e-3',
        '--train.nesterov=0',
        '--train.name=123',
        '--train.milestones=[5, 6]',
        '--train.opt={m: 0.5}',
        '--train.maybe=7',
      ],
    );
    expect(value.train).toEqual({ epochs: 3, lr: 0.001, nesterov: false, name: '123', milestones: [5, 6], opt: { m: 0.5 }, maybe: 7 });
  });

  it.each([
    ['true', true],
    ['false', false],
    ['1', true],
    ['0', false],
    ['TRUE', true],
  ])('bool %s → %s', (text, expected) => {
    expect((load([base], [`--train.nesterov=${text}`]).value.train as Record<string, unknown>).nesterov).toBe(expected);
  });

  it('a bare flag sets a boolean key to true', () => {
    const { value } = load(['a: {on: false}\n'], ['--a.on']);
    expect(value.a).toEqual({ on: true });
  });

  it('wrong types and unknown keys are all reported, with suggestions', () => {
    const issues = issuesOf(() =>
      load([base], ['--train.epochs=ten', '--train.nesterov=yes', '--train.epoch=3', '--train.milestones=5', '--train.name.x=1']),
    );
    expect(issues.map((i) => i.message)).toEqual([
      "expected a number, got 'ten'",
      "expected a boolean (true/false/1/0), got 'yes'",
      "unknown key 'train.epoch' (did you mean 'train.epochs'?)",
      "expected a list written as YAML flow, e.g. [1, 2], got '5'",
      "cannot set 'train.name.x': 'train.name' is a string, not a mapping",
    ]);
    expect(issues.every((i) => i.file === 'command line')).toBe(true);
  });

  it('unknown key message matches the spec wording', () => {
    expect(issuesOf(() => load(['a: {b: 1}\n'], ['--a.bb=2']))[0]!.message).toBe("unknown key 'a.bb' (did you mean 'a.b'?)");
  });

  it('keys the file omits are accepted when the schema knows them, typed by it', () => {
    const args = z.strictObject({ temperature: z.number().default(1), flip: z.boolean().default(false) });
    const schema = (path: readonly string[]) => (path[0] === 'post' && path[1] === 'args' ? schemaBelow(args, path.slice(2)) : undefined);
    const { value, sources } = load(['post: {name: msp}\n'], ['--post.args.temperature=1000', '--post.args.flip=1'], (p) =>
      p.length === 2 && p[1] === 'args' ? args : schema(p),
    );
    expect(value.post).toEqual({ name: 'msp', args: { temperature: 1000, flip: true } });
    expect(sources.get('post.args.temperature')).toEqual({ file: 'command line' });
    expect(issuesOf(() => load(['post: {name: msp}\n'], ['--post.args.temprature=1'], schema))[0]!.message).toBe(
      "unknown key 'post.args.temprature' (did you mean 'post.args.temperature'?)",
    );
  });

  it('a key holding a reference takes the schema type (or YAML) when overridden', () => {
    const { value } = load(['a: 3\nb: "@{a}"\n'], ['--b=5']);
    expect(value.b).toBe(5);
  });

  it('an override may itself be a reference', () => {
    const { value } = load(['a: 3\nb: 1\n'], ['--b=@{a}']);
    expect(value.b).toBe(3);
  });

  it('list items can be overridden by index; past the end is unknown', () => {
    expect(load(['m: [1, 2]\n'], ['--m.1=5']).value.m).toEqual([1, 5]);
    expect(issuesOf(() => load(['m: [1, 2]\n'], ['--m.2=5']))[0]!.message).toMatch(/unknown key 'm.2'/);
  });

  it('YAML values on the command line follow the file rules (no tags)', () => {
    expect(issuesOf(() => load(['a: null\n'], ['--a=!foo 1']))[0]!.message).toMatch(/tag '!foo' is not allowed/);
    expect(load(['a: null\n'], ['--a={x: [1, true]}']).value.a).toEqual({ x: [1, true] });
  });

  it('the schema decides the type of enum, literal, optional and union keys', () => {
    const s = z.strictObject({
      mode: z.enum(['a', 'b']).optional(),
      lit: z.literal(3).optional(),
      u: z.union([z.number(), z.string()]).optional(),
      list: z.array(z.number()).default([]),
    });
    const schema = (path: readonly string[]) => schemaBelow(s, path);
    const { value } = load(['{}\n'], ['--mode=1', '--lit=3', '--u=2', '--list=[4]'], schema);
    expect(value).toEqual({ mode: '1', lit: 3, u: 2, list: [4] });
  });

  it('applyOverrides does not modify its input', () => {
    const loaded = readConfigFiles([]);
    loaded.value = { a: { b: 1 } };
    const out = applyOverrides(loaded, ['--a.b=2']);
    expect(loaded.value).toEqual({ a: { b: 1 } });
    expect(out.value).toEqual({ a: { b: 2 } });
  });
});
