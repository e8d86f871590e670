import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsTree } from 'nx/src/generators/tree.js';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { PLUGIN_KINDS, writeComponentPlugin } from '../src/index.js';

const workspace = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const root = mkdtempSync(join(tmpdir(), 'oodkit-gen-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
for (const lib of ['core', 'compute', 'postprocessors', 'trainers', 'networks']) {
  mkdirSync(join(root, 'libs', lib), { recursive: true });
  writeFileSync(
    join(root, 'libs', lib, 'package.json'),
    JSON.stringify({ version: '9.9.9', dependencies: { zod: '4.0.1', '@tensorflow/tfjs-core': '4.1.0' } }),
  );
}
const newTree = () => new FsTree(root, false);

describe('writeComponentPlugin', () => {
  it('names: package @oodkit/plugin-<file name>, registry name with _ , nx tag scope:plugin, pinned workspace versions', () => {
    const tree = newTree();
    const made = writeComponentPlugin(tree, 'postprocessor', { name: 'my-score', description: 'a test score' });
    expect(made).toEqual({
      projectRoot: 'plugins/my-score',
      packageName: '@oodkit/plugin-my-score',
      registeredName: 'my_score',
      configFile: 'configs/plugins/my-score.yml',
    });
    const pkg = JSON.parse(tree.read('plugins/my-score/package.json', 'utf-8')!) as {
      name: string;
      dependencies: Record<string, string>;
      nx: { tags: string[] };
    };
    expect(pkg.name).toBe('@oodkit/plugin-my-score');
    expect(pkg.nx.tags).toEqual(['scope:plugin']);
    expect(pkg.dependencies).toEqual({
      '@oodkit/compute': '9.9.9',
      '@oodkit/core': '9.9.9',
      '@oodkit/postprocessors': '9.9.9',
      '@tensorflow/tfjs-core': '4.1.0',
      zod: '4.0.1',
    });
    const src = tree.read('plugins/my-score/src/my-score.ts', 'utf-8')!;
    expect(src).toContain("name: 'my_score'");
    expect(src).toContain("description: 'a test score'");
    expect(src).toContain('export class MyScorePostprocessor');
    const config = parse(tree.read('configs/plugins/my-score.yml', 'utf-8')!) as { plugins: string[]; postprocessor: { name: string } };
    expect(config.plugins).toEqual(['@oodkit/plugin-my-score']);
    expect(config.postprocessor.name).toBe('my_score');
  });

  it('--directory places the package elsewhere with matching relative paths', () => {
    const tree = newTree();
    writeComponentPlugin(tree, 'trainer', { name: 'deep', directory: 'libs/extra/deep' });
    const tsconfig = JSON.parse(tree.read('libs/extra/deep/tsconfig.json', 'utf-8')!) as { extends: string };
    expect(tsconfig.extends).toBe('../../../tsconfig.base.json');
    expect(tree.read('libs/extra/deep/tsconfig.lib.json', 'utf-8')).toContain('../../../libs/trainers/tsconfig.lib.json');
  });

  it('every kind writes the same package shape and no template placeholder survives', () => {
    const tree = newTree();
    for (const kind of PLUGIN_KINDS) {
      writeComponentPlugin(tree, kind, { name: `x-${kind}` });
      for (const file of [
        'package.json',
        'tsconfig.json',
        'tsconfig.lib.json',
        'vitest.config.ts',
        'README.md',
        'src/index.ts',
        `src/x-${kind}.ts`,
        `tests/x-${kind}.test.ts`,
      ]) {
        const text = tree.read(`plugins/x-${kind}/${file}`, 'utf-8');
        expect(text, `${kind}: ${file}`).toBeTruthy();
        expect(text).not.toMatch(/<%|%>|__tmpl__|__fileName__/);
      }
      expect(tree.exists(`configs/plugins/x-${kind}.yml`)).toBe(true);
    }
  });

  it('bad names and existing packages are errors naming the problem', () => {
    const tree = newTree();
    expect(() => writeComponentPlugin(tree, 'postprocessor', { name: 'Bad Name' })).toThrow(/invalid postprocessor name 'Bad Name'/);
    writeComponentPlugin(tree, 'dataset', { name: 'twice' });
    expect(() => writeComponentPlugin(tree, 'dataset', { name: 'twice' })).toThrow(/plugins\/twice already holds a package/);
  });

  it('the workspace runs the generators: generators.json points at existing factories and schemas', async () => {
    const { readFileSync, existsSync } = await import('node:fs');
    const base = join(workspace, 'tools', 'oodkit-plugin');
    const json = JSON.parse(readFileSync(join(base, 'generators.json'), 'utf8')) as {
      generators: Record<string, { factory: string; schema: string }>;
    };
    expect(Object.keys(json.generators).sort()).toEqual([...PLUGIN_KINDS].sort());
    for (const g of Object.values(json.generators)) {
      expect(existsSync(join(base, g.factory.split('#')[0]))).toBe(true);
      expect(existsSync(join(base, g.schema))).toBe(true);
    }
  });
});

describe('inWorkspaces', () => {
  it('matches the dir/* and exact patterns of the root package.json', async () => {
    const { inWorkspaces } = await import('../src/index.js');
    writeFileSync(join(root, 'package.json'), JSON.stringify({ workspaces: ['libs/*', 'plugins/*', 'tools/oodkit-plugin'] }));
    const tree = newTree();
    expect(inWorkspaces(tree, 'plugins/a')).toBe(true);
    expect(inWorkspaces(tree, 'libs/b')).toBe(true);
    expect(inWorkspaces(tree, 'tools/oodkit-plugin')).toBe(true);
    expect(inWorkspaces(tree, 'plugins/deep/c')).toBe(false);
    expect(inWorkspaces(tree, 'elsewhere/d')).toBe(false);
  });
});
