import { existsSync, openSync, readSync, closeSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError, type BuildContext, type ComponentRegistry, type ImageDataset } from '@oodkit/core';
import { benchmarkFile, loadBenchmark, type NamedDataset } from '../benchmark/load.js';

export interface TargetOptions {
  /** Labels file for an images file (.npy or idx); guessed from the images file name when omitted. */
  labels?: string;
  /** Image root of an image list (default: the list's folder). */
  root?: string;
  numClasses?: number;
  /** A registered dataset to build instead of a file (`--dataset generated --args '{kind: perlin}'`). */
  dataset?: string;
  /** Its args: a mapping, or YAML flow text such as `{kind: perlin, count: 100}`. */
  args?: Record<string, unknown> | string;
  /** For benchmarks: only this set (id.train, id.val, id.test, ood.val, near.<name>, far.<name>, csid.<name>, or a set name). */
  set?: string;
}

/**
 * What `oodkit data info|preview` was pointed at, as named datasets: a registered dataset, a
 * dataset or benchmark YAML, a shipped benchmark name, an .npy images file, an idx images file or
 * an image list (.txt).
 */
export async function openTarget(
  target: string | undefined,
  options: TargetOptions,
  registry: ComponentRegistry,
  ctx: Omit<BuildContext, 'registry'>,
): Promise<NamedDataset[]> {
  const build = async (name: string, args: Record<string, unknown>) => [
    { name, dataset: await registry.build<ImageDataset>('dataset', { name, args }, ctx, 'dataset') },
  ];
  if (options.dataset) return build(options.dataset, parseArgs(options.args));
  if (!target) throw new UsageError('give a file, a benchmark name, or --dataset <registered name>');
  const path = resolve(target);
  const isFile = existsSync(path) && statSync(path).isFile();
  const numClasses = options.numClasses;
  if (isFile && /\.npy$/.test(path)) {
    const labels =
      options.labels ??
      guessSibling(
        path,
        [
          ['images', 'labels'],
          ['imgs', 'labels'],
          ['x', 'y'],
        ],
        'labels.npy',
      );
    return build('npy', { images: path, labels, ...(numClasses ? { num_classes: numClasses } : {}) });
  }
  if (isFile && /\.txt$/.test(path)) {
    if (!numClasses) throw new UsageError(`${target}: an image list needs --num-classes (labels are checked against it; -1 = OOD)`);
    return build('imglist', { list: path, root: resolve(options.root ?? dirname(path)), num_classes: numClasses });
  }
  if (isFile && /\.ya?ml$/.test(path)) {
    const doc = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
    if (doc && typeof doc === 'object') {
      if ('benchmark' in doc || ('id' in doc && 'ood' in doc)) return benchmarkSets(path, options, registry, ctx);
      const section = (typeof doc.dataset === 'object' ? doc.dataset : doc) as { name?: unknown; args?: Record<string, unknown> };
      if (typeof section.name === 'string') return build(section.name, section.args ?? {});
    }
    throw new UsageError(`${target}: expected a dataset section ({name, args}, or under dataset:) or a benchmark (under benchmark:)`);
  }
  if (isFile && looksLikeIdx(path)) {
    const labels =
      options.labels ??
      guessSibling(path, [
        ['images-idx3', 'labels-idx1'],
        ['images', 'labels'],
      ]);
    return build('idx', { images: path, labels, ...(numClasses ? { num_classes: numClasses } : {}) });
  }
  if (!isFile && existsSync(benchmarkFile(target))) return benchmarkSets(target, options, registry, ctx);
  throw new UsageError(
    `${target}: not a file oodkit can read (.npy, idx, .txt image list, .yml) nor a shipped benchmark; for a registered dataset use --dataset <name> [--args '{...}']`,
  );
}

function parseArgs(args: TargetOptions['args']): Record<string, unknown> {
  if (args === undefined) return {};
  if (typeof args !== 'string') return args;
  const parsed = parseYaml(args) as unknown;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`--args must be a YAML mapping, got '${args}'`);
  return parsed as Record<string, unknown>;
}

function looksLikeIdx(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(3);
    readSync(fd, head, 0, 3, 0);
    return (head[0] === 0 && head[1] === 0 && head[2] === 8) || (head[0] === 0x1f && head[1] === 0x8b);
  } finally {
    closeSync(fd);
  }
}

function guessSibling(path: string, swaps: [string, string][], fallback?: string): string {
  const name = basename(path);
  for (const [from, to] of swaps) {
    if (name.includes(from)) {
      const candidate = join(dirname(path), name.replace(from, to));
      if (existsSync(candidate)) return candidate;
    }
  }
  if (fallback && existsSync(join(dirname(path), fallback))) return join(dirname(path), fallback);
  throw new UsageError(`${path}: cannot guess the labels file; give --labels <file>`);
}

async function benchmarkSets(
  value: string,
  options: TargetOptions,
  registry: ComponentRegistry,
  ctx: Omit<BuildContext, 'registry'>,
): Promise<NamedDataset[]> {
  const b = await loadBenchmark(value, registry, ctx);
  const all: NamedDataset[] = [
    { name: 'id.train', dataset: b.id.train },
    { name: 'id.val', dataset: b.id.val },
    { name: 'id.test', dataset: b.id.test },
    { name: `ood.val.${b.ood.val.name}`, dataset: b.ood.val.dataset },
    ...b.ood.near.map((n) => ({ name: `near.${n.name}`, dataset: n.dataset })),
    ...b.ood.far.map((n) => ({ name: `far.${n.name}`, dataset: n.dataset })),
    ...b.csid.map((n) => ({ name: `csid.${n.name}`, dataset: n.dataset })),
  ];
  if (!options.set) return all;
  const chosen = all.filter((s) => s.name === options.set || s.name.endsWith(`.${options.set}`) || s.name.startsWith(`${options.set}.`));
  if (chosen.length === 0)
    throw new UsageError(`benchmark '${b.config.name}' has no set '${options.set}'; sets: ${all.map((s) => s.name).join(', ')}`);
  return chosen;
}
