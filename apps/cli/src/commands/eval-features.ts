import { join, basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { initCompute, type BackendName } from '@oodkit/compute';
import {
  DataError,
  OodkitError,
  Rng,
  UsageError,
  createAppContainer,
  createLogger,
  createOodkitContainer,
  pluginSpecsOf,
  readConfigFiles,
  registryOf,
  writeFileAtomic,
  type ComponentRegistry,
  type Logger,
  type Postprocessor,
} from '@oodkit/core';
import {
  FeatureFolder,
  FeatureFolderSource,
  METRIC_COLUMNS,
  formatFixed2,
  metricsCsv,
  toPercentRow,
  type OodEvaluation,
  type OodEvaluator,
} from '@oodkit/evaluators';
import { builtinModules } from '../modules.js';

export interface EvalFeaturesOptions {
  readonly dir: string;
  readonly postprocessor: string;
  /** Postprocessor args from `--args.KEY=VALUE`. */
  readonly args?: Record<string, unknown>;
  readonly aps?: boolean;
  readonly out?: string;
  readonly batchSize?: number;
  readonly seed?: number;
  readonly backend?: BackendName | 'auto';
  readonly registry?: ComponentRegistry;
  readonly logger?: Logger;
  /** Where tables are printed (stdout by default). */
  readonly print?: (text: string) => void;
}

export interface EvalFeaturesReport {
  readonly out: string;
  readonly evaluations: OodEvaluation[];
  /** Postprocessors left out of `all`, with the reason. */
  readonly skipped: { postprocessor: string; reason: string }[];
}

/** `--args.K=50 --args.T 1000` → { K: 50, T: 1000 }; values parse as JSON when they can (numbers, booleans, lists). */
export function parseArgsOptions(tokens: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const match = /^--args\.([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/s.exec(token);
    if (!match) throw new UsageError(`unexpected argument '${token}' (postprocessor arguments are given as --args.KEY=VALUE)`);
    let raw = match[2];
    if (raw === undefined) {
      raw = tokens[i + 1];
      if (raw === undefined || raw.startsWith('--')) throw new UsageError(`${token} needs a value`);
      i++;
    }
    args[match[1]!] = parseValue(raw);
  }
  return args;
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function defaultOut(dir: string): string {
  return join('results', 'eval-features', basename(resolve(dir)));
}

/** Tables of several postprocessors in one CSV, a `postprocessor` column first. */
function summaryCsv(evaluations: readonly OodEvaluation[]): string {
  const lines = [['postprocessor', 'dataset', ...METRIC_COLUMNS].join(',')];
  for (const e of evaluations) {
    for (const row of e.rows) {
      const p = toPercentRow(row);
      lines.push([e.postprocessor, p.dataset, ...METRIC_COLUMNS.map((c) => formatFixed2(p[c]))].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Evaluate one postprocessor (or every registered one that needs only features) on a feature folder;
 * writes `<pp>__metrics.csv/.json` and `<pp>__<split>.npy` into `out`.
 */
export async function runEvalFeatures(options: EvalFeaturesOptions): Promise<EvalFeaturesReport> {
  const logger = options.logger ?? createLogger();
  const print = options.print ?? ((text: string) => process.stdout.write(text));
  const registry = options.registry ?? registryOf(createOodkitContainer(builtinModules));
  const all = options.postprocessor === 'all';
  const args = options.args ?? {};
  if (all && Object.keys(args).length > 0)
    throw new UsageError('--args.* applies to one postprocessor; it cannot be combined with --postprocessor all');
  const names = all ? registry.names('postprocessor') : [options.postprocessor];
  if (all && names.length === 0) throw new UsageError('no postprocessor is registered');
  // Validate the name and args before reading any data (unknown name → "did you mean").
  if (!all) registry.resolveArgs('postprocessor', { name: options.postprocessor, args }, 'postprocessor');

  await initCompute({ backend: options.backend ?? 'auto', logger });
  const folder = await FeatureFolder.open(options.dir);
  const source = new FeatureFolderSource(folder, options.batchSize ?? 4096);
  const out = options.out ?? defaultOut(options.dir);
  const root = Rng.fromSeed(options.seed ?? 0);
  const ctx = (name: string) => ({ logger: logger.child(name), rng: root.derive(`postprocessor.${name}`), config: {} });
  const evaluator = await registry.build<OodEvaluator>('evaluator', { name: 'ood', args: { aps: options.aps ?? false } }, ctx('evaluator'));

  const evaluations: OodEvaluation[] = [];
  const skipped: { postprocessor: string; reason: string }[] = [];
  const failures: string[] = [];
  for (const name of names) {
    const postprocessor = await registry.build<Postprocessor>('postprocessor', { name, args: all ? {} : args }, ctx(name));
    try {
      if (postprocessor.needsNetwork) {
        const reason = 'needs the network (inputs or intermediate blocks); a feature folder has only features';
        if (!all) throw new UsageError(`postprocessor '${name}' ${reason} — evaluate it from a trained model instead`);
        skipped.push({ postprocessor: name, reason });
        logger.info(`skipping ${name}: ${reason}`);
        continue;
      }
      const missing = postprocessor.requires.filter((role) => folder.splits[role] === undefined);
      if (all && missing.length > 0) {
        const reason = `fits on the ID ${missing.join(' and ')} split, which splits.yml does not name`;
        skipped.push({ postprocessor: name, reason });
        logger.info(`skipping ${name}: ${reason}`);
        continue;
      }
      const evaluation = await evaluator.evaluate(postprocessor, source);
      await evaluator.write(out, evaluation);
      evaluations.push(evaluation);
      print(`# ${name} ${JSON.stringify(evaluation.hyperparameters)}\n${metricsCsv(evaluation.rows)}`);
    } catch (error) {
      if (!all || !(error instanceof OodkitError)) throw error;
      failures.push(`${name}: ${error.message}`);
      logger.error(`${name} failed: ${error.message}`);
    } finally {
      postprocessor.dispose?.();
    }
  }
  if (all) {
    await writeFileAtomic(join(out, 'summary.csv'), summaryCsv(evaluations));
    await writeFileAtomic(
      join(out, 'summary.json'),
      JSON.stringify({ evaluated: evaluations.map((e) => e.postprocessor), skipped, failures }, null, 2) + '\n',
    );
    for (const s of skipped) print(`# skipped ${s.postprocessor}: ${s.reason}\n`);
  }
  if (failures.length > 0) throw new DataError(`${failures.length} postprocessor(s) failed:\n  ${failures.join('\n  ')}`);
  return { out, evaluations, skipped };
}

export function registerEvalFeatures(program: Command): void {
  program
    .command('eval-features')
    .description(
      'evaluate postprocessors on a feature folder (fc_weight.npy, fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml)',
    )
    .requiredOption('--dir <dir>', 'feature folder')
    .requiredOption('--postprocessor <name>', "registered postprocessor, or 'all' for every one that needs only features")
    .option('--aps', 'search hyperparameters on ID val vs ood_val (OpenOOD APS)', false)
    .option('--out <dir>', 'output folder (default results/eval-features/<dir name>)')
    .option('--batch-size <n>', 'rows scored per batch', (v) => Number.parseInt(v, 10), 4096)
    .option('--seed <n>', "seed of the postprocessors' random streams", (v) => Number.parseInt(v, 10), 0)
    .option('--backend <name>', 'compute backend: auto, tensorflow, wasm, cpu', 'auto')
    .option('-p, --plugin <specs...>', 'load these plugins (package names or paths) before resolving --postprocessor')
    .option('-c, --config <files...>', "load the plugins these config files name under 'plugins:'")
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText('after', '\nPostprocessor arguments: --args.KEY=VALUE (e.g. --args.K=50).')
    .action(
      async (
        opts: {
          dir: string;
          postprocessor: string;
          aps: boolean;
          out?: string;
          batchSize: number;
          seed: number;
          backend: BackendName | 'auto';
          plugin?: string[];
          config?: string[];
        },
        command: Command,
      ) => {
        if (!Number.isInteger(opts.batchSize) || opts.batchSize <= 0) throw new UsageError(`--batch-size must be a positive integer`);
        const { plugin, config, ...rest } = opts;
        const plugins = [...(plugin ?? []), ...(config ? pluginSpecsOf(readConfigFiles(config)) : [])];
        const registry = plugins.length > 0 ? (await createAppContainer({ builtins: builtinModules, plugins })).registry : undefined;
        await runEvalFeatures({ ...rest, args: parseArgsOptions(command.args), ...(registry ? { registry } : {}) });
      },
    );
}
