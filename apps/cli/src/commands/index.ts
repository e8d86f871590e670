import type { Command } from 'commander';
import { registerConfig } from './config.js';
import { registerList } from './list.js';
import { registerEvalFeatures } from './eval-features.js';
import { registerEval } from './eval.js';
import { registerMetrics } from './metrics.js';
import { registerTrain } from './train.js';
import { registerFeatExtract } from './feat-extract.js';
import { registerData } from './data.js';
import { registerBench } from './bench.js';
import { registerRun } from './run.js';
import { registerTestOod } from './test-ood.js';

/** Each subcommand file exports one registrar; add it here. */
export type CommandRegistrar = (program: Command) => void;

export const commandRegistrars: readonly CommandRegistrar[] = [
  registerList,
  registerConfig,
  registerEval,
  registerEvalFeatures,
  registerMetrics,
  registerTrain,
  registerFeatExtract,
  registerTestOod,
  registerData,
  registerBench,
  registerRun,
];
