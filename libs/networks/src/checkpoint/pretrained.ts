import type { BuildContext } from '@oodkit/core';
import { z } from 'zod';
import type { TrunkClassifier } from '../networks/base.js';
import { loadTorchCheckpoint } from './load-state-dict.js';

/** Network args that start a network from PyTorch weights (OpenOOD's `network.checkpoint`). */
export const checkpointArgs = {
  /** A PyTorch checkpoint (torch.save zip or legacy format, state_dict possibly wrapped or DataParallel-prefixed) or a safetensors file; relative paths are resolved from the working directory. */
  checkpoint: z.string().min(1).optional(),
  /** Key of the state_dict inside a wrapping dict (default: found by the usual names). */
  checkpoint_key: z.string().min(1).optional(),
  /** PyTorch's load_state_dict(strict): every key on both sides must match (default true). Sizes must always match. No default in the schema, so configs without a checkpoint resolve (and hash) as before. */
  checkpoint_strict: z.boolean().optional(),
};

interface CheckpointArgs {
  readonly checkpoint?: string;
  readonly checkpoint_key?: string;
  readonly checkpoint_strict?: boolean;
}

/**
 * `make(initialize)` builds the network; with a checkpoint its weights are then loaded. A strict load
 * assigns every parameter, so the random draw is skipped; a non-strict one keeps it for what the file
 * lacks, as PyTorch does.
 */
export async function withCheckpoint<T extends TrunkClassifier>(
  args: CheckpointArgs,
  ctx: BuildContext,
  make: (initialize: boolean) => T,
): Promise<T> {
  if (!args.checkpoint) return make(true);
  const strict = args.checkpoint_strict ?? true;
  const network = make(!strict);
  try {
    const report = await loadTorchCheckpoint(network, args.checkpoint, { key: args.checkpoint_key, strict });
    const notes = [
      report.key && `state_dict under '${report.key}'`,
      report.strippedPrefix && `'${report.strippedPrefix}' prefix removed`,
      Object.keys(report.converted).length > 0 && `converted from ${Object.keys(report.converted).join(', ')}`,
      report.missing.length > 0 && `${report.missing.length} missing (kept initial)`,
      report.unexpected.length > 0 && `${report.unexpected.length} unexpected (ignored)`,
    ].filter(Boolean);
    ctx.logger.info(
      `${network.name}: ${report.loaded.length} tensors from ${args.checkpoint} (${report.format}${notes.length ? `; ${notes.join('; ')}` : ''})`,
    );
  } catch (error) {
    network.dispose();
    throw error;
  }
  return network;
}
