import { resolve } from 'node:path';
import type { Logger } from '@oodkit/core';
import type { BenchEvent } from '../benchmark/run-benchmark.js';

/** What every registered pipeline offers: `oodkit run` builds `pipeline: {name, args}` and calls `run`. */
export interface RunnablePipeline {
  run(options?: PipelineRunOptions): Promise<unknown>;
}

export interface PipelineRunOptions {
  readonly logger?: Logger;
  readonly resume?: boolean;
  readonly onEvent?: (event: BenchEvent) => void;
}

/** `<output_dir>/<exp_name>`, or `<output_dir>/<fallback>` when the config names no experiment. */
export function runDirOf(config: Readonly<Record<string, unknown>>, fallback: string): string {
  const base = typeof config.output_dir === 'string' ? config.output_dir : 'results';
  return resolve(base, typeof config.exp_name === 'string' ? config.exp_name : fallback);
}
