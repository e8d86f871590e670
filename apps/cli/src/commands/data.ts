import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { Rng, UsageError, assertWritableDir, writeFileAtomic } from '@oodkit/core';
import { datasetInfo, formatInfo, openTarget, previewGrid, type TargetOptions } from '@oodkit/data';
import { commandInputs, deprecatedOption, integerOption, parseCommandOverrides, withConfigOptions } from '../shared/options.js';
import { loadRunFromInputs, writeOut } from '../shared/run-config.js';
import { checkCacheFolder } from '../shared/run-pipeline.js';

interface TargetFlags {
  labels?: string;
  root?: string;
  numClasses?: number;
  dataset?: string;
  args?: string;
  set?: string;
}

const TARGET_HELP = `
<target> is one of:
  a shipped benchmark name (mnist, cifar10, ...) or a benchmark .yml  → every set, or --set <name>
  a dataset section .yml ({name, args})
  images.npy (+ labels.npy beside it or --labels)       NumPy pair, SIO format
  an idx images file (+ its labels file or --labels)     MNIST family, raw or .gz
  an image list .txt (--root, --num-classes)             OpenOOD '<path> <label>'
or give --dataset <registered name> [--args '{yaml flow}'] instead.
Dataset paths are relative to --data_dir=<dir> (config key data_dir, default: cwd); converted package
data is cached in --cache_dir=<dir> (or OODKIT_CACHE_DIR). --config files give data_dir, cache_dir, plugins.`;

function withTargetOptions(command: Command): Command {
  return withConfigOptions(
    command
      .argument('[target]', 'file, benchmark name or dataset YAML')
      .option('--labels <file>', 'labels file for .npy / idx images')
      .option('--root <dir>', 'image root of an image list (default: its folder)')
      .option('--num-classes <n>', 'number of ID classes (labels are checked against it)', integerOption('--num-classes'))
      .option('--dataset <name>', 'build this registered dataset instead of reading a file')
      .option('--args <yaml>', "its args as YAML flow, e.g. '{kind: perlin, count: 100}'")
      .option('--set <name>', 'for benchmarks: only this set (id.train, id.test, near.<name>, far.<name>, ...)')
      .addOption(deprecatedOption('--data-dir <dir>', '--data_dir=<dir>'))
      .addOption(deprecatedOption('--cache-dir <dir>', '--cache_dir=<dir>'))
      .addHelpText('after', TARGET_HELP),
  );
}

/** The target's sets, built with the registry and data_dir / cache_dir of the (optional) config. */
async function open(target: string | undefined, flags: TargetFlags & { dataDir?: string; cacheDir?: string }, command: Command) {
  const inputs = commandInputs(command);
  // The old --data-dir / --cache-dir stay declared (hidden) so they take their value anywhere on the line.
  const legacy = parseCommandOverrides([
    ...(flags.dataDir !== undefined ? ['--data-dir', flags.dataDir] : []),
    ...(flags.cacheDir !== undefined ? ['--cache-dir', flags.cacheDir] : []),
  ]);
  const run = await loadRunFromInputs(
    { ...inputs, overrides: [...legacy.overrides, ...inputs.overrides], notices: [...legacy.notices, ...inputs.notices] },
    { requireFiles: false },
  );
  checkCacheFolder(run);
  const targetOptions: TargetOptions = {
    labels: flags.labels,
    root: flags.root,
    numClasses: flags.numClasses,
    dataset: flags.dataset,
    args: flags.args,
    set: flags.set,
  };
  return openTarget(target, targetOptions, run.app.registry, {
    logger: run.logger.child('data'),
    rng: Rng.fromSeed(0),
    config: run.config.value,
  });
}

/** `oodkit data info|preview`: inspect and validate datasets. */
export function registerData(program: Command): void {
  const data = program.command('data').description('inspect datasets: validate and summarise (info) or render samples (preview)');

  withTargetOptions(data.command('info').description('validate a dataset and print count, shape, dtype, class histogram and pixel range'))
    .option('--sample <n>', 'scan only n evenly spread images for the pixel statistics (default: all)', integerOption('--sample'))
    .option('--json', 'print JSON instead of text')
    .action(async (target: string | undefined, options: TargetFlags & { sample?: number; json?: boolean }, command: Command) => {
      const sets = await open(target, options, command);
      const infos = [];
      for (const set of sets) {
        const info = await datasetInfo(set.dataset, { sample: options.sample });
        const named = { ...info, name: set.name === set.dataset.name ? info.name : `${set.name} (${info.name})` };
        infos.push(named);
        if (!options.json) writeOut(formatInfo(named));
      }
      if (options.json) writeOut(JSON.stringify(infos.length === 1 ? infos[0] : infos, null, 2));
    });

  withTargetOptions(data.command('preview').description('write a PNG grid of samples'))
    .requiredOption('-o, --out <file>', 'PNG file to write')
    .option('--count <n>', 'number of images (default 64)', integerOption('--count'), 64)
    .option('--cols <n>', 'images per row (default 8)', integerOption('--cols'), 8)
    .option('--scale <n>', 'integer upscaling (default 2)', integerOption('--scale'), 2)
    .option('--seed <n>', 'pick a seeded random sample instead of the first images', integerOption('--seed', 0))
    .action(
      async (
        target: string | undefined,
        options: TargetFlags & { out: string; count: number; cols: number; scale: number; seed?: number },
        command: Command,
      ) => {
        const out = resolve(options.out);
        if (statSync(out, { throwIfNoEntry: false })?.isDirectory())
          throw new UsageError(`--out: '${out}' is a folder, expected a .png file`);
        assertWritableDir(dirname(out), '--out');
        const sets = await open(target, options, command);
        if (sets.length !== 1)
          throw new UsageError(`preview renders one set; choose one with --set (${sets.map((s) => s.name).join(', ')})`);
        const { dataset } = sets[0]!;
        const count = Math.min(options.count, dataset.length);
        const indices =
          options.seed === undefined
            ? Array.from({ length: count }, (_, i) => i)
            : Array.from(Rng.fromSeed(options.seed).permutation(dataset.length).subarray(0, count));
        const png = await previewGrid(dataset, indices, { cols: options.cols, scale: options.scale });
        await writeFileAtomic(out, png);
        writeOut(`${out}: ${count} images of ${sets[0]!.name} (${dataset.imageShape.join('×')})`);
      },
    );
}
