import { copyFile, mkdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError, defineComponent, writeFileAtomic } from '@oodkit/core';
import { z } from 'zod';
import { writeCheckpoint, type Checkpoint, type CheckpointPosition, type EpochRecord } from '../train/checkpoint.js';
import type { StepRecord, TrainRecorder } from './recorder.js';

export const baseRecorderArgs = z.strictObject({
  save_all_models: z
    .boolean()
    .default(false)
    .describe("also keep every epoch's weights as checkpoints/epoch_<n>.ckpt (OpenOOD's save_all_models)"),
});
export type BaseRecorderArgs = z.infer<typeof baseRecorderArgs>;

/**
 * OpenOOD's BaseRecorder semantics on oodkit's resumable checkpoints: `checkpoints/last.ckpt` after
 * every epoch (and every `checkpoint_every` steps), `checkpoints/best.ckpt` whenever the validation
 * accuracy is ≥ the best so far (a tie replaces it, as `save_model`'s `>=`), optionally every epoch's
 * weights, and `train.json` with the run summary. Every file is written atomically.
 */
export class BaseRecorder implements TrainRecorder {
  readonly name: string = 'base';
  protected outputDir?: string;

  constructor(readonly args: BaseRecorderArgs) {}

  protected dir(): string {
    if (!this.outputDir) throw new UsageError(`recorder '${this.name}': open() before recording`);
    return this.outputDir;
  }

  async open(run: { readonly outputDir: string; readonly resumedFrom: CheckpointPosition | null }): Promise<void> {
    this.outputDir = run.outputDir;
  }

  checkpointPath(outputDir: string, kind: 'last' | 'best'): string {
    return join(outputDir, 'checkpoints', `${kind}.ckpt`);
  }

  isBest(valAccuracy: number, best: number | null): boolean {
    return best === null || valAccuracy >= best;
  }

  async saveCheckpoint(checkpoint: Checkpoint, epochEnd: EpochRecord | null): Promise<string> {
    const path = this.checkpointPath(this.dir(), checkpoint.meta.kind);
    await writeCheckpoint(path, checkpoint);
    if (this.args.save_all_models && epochEnd && checkpoint.meta.kind === 'last') {
      const kept = join(this.dir(), 'checkpoints', `epoch_${epochEnd.epoch + 1}.ckpt`);
      await mkdir(dirname(kept), { recursive: true });
      // Copy to a temp name then rename, so a kill never leaves a half-written epoch file.
      const temp = `${kept}.tmp`;
      await copyFile(path, temp);
      await rename(temp, kept);
    }
    return path;
  }

  /** The base recorder keeps no per-step log (OpenOOD's prints only epoch lines). */
  step(_record: StepRecord): Promise<void> {
    return Promise.resolve();
  }

  async summary(summary: Record<string, unknown>): Promise<void> {
    await writeFileAtomic(join(this.dir(), 'train.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }

  /** Nothing is held open between writes. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const baseRecorderDefinition = defineComponent({
  kind: 'recorder',
  name: 'base',
  description:
    'checkpoints: last after every epoch, best by validation accuracy (≥, as OpenOOD), optionally every epoch; train.json summary',
  args: baseRecorderArgs,
  create: (args) => new BaseRecorder(args),
});
