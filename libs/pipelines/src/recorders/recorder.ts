import type { Checkpoint, CheckpointPosition, EpochRecord } from '../train/checkpoint.js';

/** One optimiser step as the loop saw it. */
export interface StepRecord {
  /** Optimiser steps taken in the whole run after this one (1-based). */
  readonly step: number;
  /** 0-based epoch and step within it. */
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly loss: number;
  /** Learning rate the step used; null for a trainer that does not expose one. */
  readonly lr: number | null;
  /** Wall-clock seconds the step took (data, forward, backward, update). */
  readonly seconds: number;
}

/**
 * What is recorded while a network trains (the `recorder:` key; OpenOOD's recorders). The train loop
 * decides *when* (every step, every epoch end, every `checkpoint_every` steps); the recorder decides
 * what is kept and where: checkpoints, the best-model rule, logs, the run summary.
 */
export interface TrainRecorder {
  readonly name: string;
  /** Called once before the first step; `resumedFrom` is the checkpoint position a resumed run continues from. */
  open(run: { readonly outputDir: string; readonly resumedFrom: CheckpointPosition | null }): Promise<void>;
  /** Where `last` / `best` checkpoints of a run folder live (resume reads `last` before `open`). */
  checkpointPath(outputDir: string, kind: 'last' | 'best'): string;
  /** Whether an epoch's validation accuracy replaces the best so far (`best` null: none yet). */
  isBest(valAccuracy: number, best: number | null): boolean;
  /** Writes `checkpoint` (its `meta.kind` says which); returns the path written. */
  saveCheckpoint(checkpoint: Checkpoint, epochEnd: EpochRecord | null): Promise<string>;
  step(record: StepRecord): Promise<void>;
  /** The run's summary (train.json) once training and the test evaluation are done. */
  summary(summary: Record<string, unknown>): Promise<void>;
  /** Flushes and releases what `open` acquired; safe after a failed run. */
  close(): Promise<void>;
}
