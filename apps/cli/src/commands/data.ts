import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Rng, UsageError, createAppContainer, createLogger, writeFileAtomic, type LogLevel } from '@oodkit/core';
import { datasetInfo, formatInfo, openTarget, previewGrid, type TargetOptions } from '@oodkit/data';
import { builtinModules } from '../modules.js';
import { writeOut } from '../shared/run-config.js';

interface CommonOptions {
  labels?: string;
  root?: string;
  numClasses?: string;
  dataset?: string;
  args?: string;
  set?: string;
  dataDir?: string;
  cacheDir?: string;
}

const TARGET_HELP = `
<target> is one of:
  a shipped benchmark name (mnist, cifar10, ...) or a benchmark .yml  → every set, or --set <name>
  a dataset section .yml ({name, args})
  images.npy (+ labels.npy beside it or --labels)       NumPy pair, SIO format
  an idx images file (+ its labels file or --labels)     MNIST family, raw or .gz
  an image list .txt (--root, --num-classes)             OpenOOD '<path> <label>'
or give --dataset <registered name> [--args '{yaml flow}'] instead.`;

function withTargetOptions(command: Command): Command {
  return command
    .argument('[target]', 'file, benchmark name or dataset YAML')
    .option('--labels <file>', 'labels file for .npy / idx images')
    .option('--root <dir>', 'image root of an image list (default: its folder)')
    .option('--num-classes <n>', 'number of ID classes (labels are checked against it)')
    .option('--dataset <name>', 'build this registered dataset instead of reading a file')
    .option('--args <yaml>', "its args as YAML flow, e.g. '{kind: perlin, count: 100}'")
    .option('--set <name>', 'for benchmarks: only this set (id.train, id.test, near.<name>, far.<name>, ...)')
    .option('--data-dir <dir>', 'root for relative dataset paths (default: cwd)')
    .option('--cache-dir <dir>', 'where converted package data is cached (default: OODKIT_CACHE_DIR or <project>/.cache/oodkit)')
    .addHelpText('after', TARGET_HELP);
}

async function open(target: string | undefined, options: CommonOptions) {
  const app = await createAppContainer({ builtins: builtinModules });
  const numClasses = options.numClasses === undefined ? undefined : Number(options.numClasses);
  if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 1))
    throw new UsageError(`--num-classes must be a positive integer, got '${options.numClasses}'`);
  const config: Record<string, unknown> = {};
  if (options.dataDir) config.data_dir = resolve(options.dataDir);
  if (options.cacheDir) config.cache_dir = resolve(options.cacheDir);
  const logger = createLogger((process.env.OODKIT_LOG_LEVEL as LogLevel | undefined) ?? 'info').child('data');
  const targetOptions: TargetOptions = {
    labels: options.labels,
    root: options.root,
    numClasses,
    dataset: options.dataset,
    args: options.args,
    set: options.set,
  };
  return openTarget(target, targetOptions, app.registry, { logger, rng: Rng.fromSeed(0), config });
}

/** `oodkit data info|preview`: inspect and validate datasets. */
export function registerData(program: Command): void {
  const data = program.command('data').description('inspect datasets: validate and summarise (info) or render samples (preview)');

  withTargetOptions(data.command('info').description('validate a dataset and print count, shape, dtype, class histogram and pixel range'))
    .option('--sample <n>', 'scan only n evenly spread images for the pixel statistics (default: all)')
    .option('--json', 'print JSON instead of text')
    .action(async (target: string | undefined, options: CommonOptions & { sample?: string; json?: boolean }) => {
      const sets = await open(target, options);
      const sample = options.sample === undefined ? undefined : Number(options.sample);
      if (sample !== undefined && (!Number.isInteger(sample) || sample < 1))
        throw new UsageError(`--sample must be a positive integer, got '${options.sample}'`);
      const infos = [];
      for (const set of sets) {
        const info = await datasetInfo(set.dataset, { sample });
        const named = { ...info, name: set.name === set.dataset.name ? info.name : `${set.name} (${info.name})` };
        infos.push(named);
        if (!options.json) writeOut(formatInfo(named));
      }
      if (options.json) writeOut(JSON.stringify(infos.length === 1 ? infos[0] : infos, null, 2));
    });

  withTargetOptions(data.command('preview').description('write a PNG grid of samples'))
    .requiredOption('-o, --out <file>', 'PNG file to write')
    .option('--count <n>', 'number of images', '64')
    .option('--cols <n>', 'images per row', '8')
    .option('--scale <n>', 'integer upscaling', '2')
    .option('--seed <n>', 'pick a seeded random sample instead of the first images')
    .action(
      async (
        target: string | undefined,
        options: CommonOptions & { out: string; count: string; cols: string; scale: string; seed?: string },
      ) => {
        const sets = await open(target, options);
        if (sets.length !== 1)
          throw new UsageError(`preview renders one set; choose one with --set (${sets.map((s) => s.name).join(', ')})`);
        const { dataset } = sets[0];
        const count = Math.min(Number(options.count), dataset.length);
        if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count must be a positive integer, got '${options.count}'`);
        const indices =
          options.seed === undefined
            ? Array.from({ length: count }, (_, i) => i)
            : Array.from(Rng.fromSeed(Number(options.seed)).permutation(dataset.length).subarray(0, count));
        const png = await previewGrid(dataset, indices, { cols: Number(options.cols), scale: Number(options.scale) });
        await writeFileAtomic(resolve(options.out), png);
        writeOut(`${resolve(options.out)}: ${count} images of ${sets[0].name} (${dataset.imageShape.join('×')})`);
      },
    );
}
