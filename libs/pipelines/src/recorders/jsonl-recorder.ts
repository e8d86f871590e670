import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineComponent, writeFileAtomic } from '@oodkit/core';
import { z } from 'zod';
import type { CheckpointPosition } from '../train/checkpoint.js';
import { BaseRecorder, baseRecorderArgs } from './base-recorder.js';
import type { StepRecord } from './recorder.js';

export const jsonlRecorderArgs = baseRecorderArgs.extend({
  file: z
    .string()
    .min(1)
    .regex(/^[^/\\]+$/, 'a file name inside the run folder')
    .default('train_log.jsonl')
    .describe('the per-step log, in the run folder'),
});
export type JsonlRecorderArgs = z.infer<typeof jsonlRecorderArgs>;

/** One line of the per-step log. */
export interface TrainLogLine {
  readonly step: number;
  readonly epoch: number;
  readonly step_in_epoch: number;
  readonly loss: number;
  readonly lr: number | null;
  /** Unix time (seconds) when the step finished. */
  readonly time: number;
  /** Seconds the step took. */
  readonly step_seconds: number;
}

/** The lines of a per-step log; a line that is not JSON (a write cut by a kill is the only way to get one) ends it. */
export function readTrainLog(text: string): TrainLogLine[] {
  const lines: TrainLogLine[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      lines.push(JSON.parse(line) as TrainLogLine);
    } catch {
      break;
    }
  }
  return lines;
}

/**
 * The base recorder plus a per-step JSON Lines training log (step, epoch, loss, lr, time), appended
 * after every optimiser step. A resumed run first cuts the log back to the checkpoint it resumes from,
 * so every step appears exactly once, as in an unbroken run (the steps after the checkpoint are re-run).
 */
export class JsonlRecorder extends BaseRecorder {
  override readonly name = 'jsonl';

  constructor(override readonly args: JsonlRecorderArgs) {
    super(args);
  }

  get logPath(): string {
    return join(this.dir(), this.args.file);
  }

  override async open(run: { readonly outputDir: string; readonly resumedFrom: CheckpointPosition | null }): Promise<void> {
    await super.open(run);
    await mkdir(run.outputDir, { recursive: true });
    const path = this.logPath;
    let kept: TrainLogLine[] = [];
    if (run.resumedFrom && existsSync(path)) {
      const upTo = run.resumedFrom.globalStep;
      // Lines after the checkpoint belong to steps the resumed run takes again.
      kept = readTrainLog(await readFile(path, 'utf8')).filter((line) => line.step <= upTo);
    }
    await writeFileAtomic(path, kept.map((line) => `${JSON.stringify(line)}\n`).join(''));
  }

  override async step(record: StepRecord): Promise<void> {
    const line: TrainLogLine = {
      step: record.step,
      epoch: record.epoch,
      step_in_epoch: record.stepInEpoch,
      loss: record.loss,
      lr: record.lr,
      time: Date.now() / 1000,
      step_seconds: record.seconds,
    };
    await appendFile(this.logPath, `${JSON.stringify(line)}\n`);
  }
}

export const jsonlRecorderDefinition = defineComponent({
  kind: 'recorder',
  name: 'jsonl',
  description: 'the base recorder plus a per-step JSON Lines log (step, epoch, loss, lr, time) in the run folder; cut back on resume',
  args: jsonlRecorderArgs,
  create: (args) => new JsonlRecorder(args),
});
