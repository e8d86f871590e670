import { DataError, Rng, silentLogger, type Classifier, type ComponentRegistry, type Logger } from '@oodkit/core';
import { readCheckpoint, restoreVariables, type CheckpointMeta } from './checkpoint.js';

/**
 * Rebuild the network a checkpoint was trained with (from the config stored in it) and load its
 * weights. For feat-extract, evaluators and the benchmark app. The caller disposes the network.
 */
export async function loadTrainedNetwork(
  path: string,
  registry: ComponentRegistry,
  logger: Logger = silentLogger,
): Promise<{ network: Classifier; meta: CheckpointMeta }> {
  const checkpoint = await readCheckpoint(path);
  const section = checkpoint.meta.config?.network;
  if (section === undefined)
    throw new DataError(`${path}: checkpoint has no network config (written without one); cannot rebuild the network`);
  const config = checkpoint.meta.config ?? {};
  // The init stream is irrelevant (weights are overwritten) but must exist.
  const network = await registry.build<Classifier>(
    'network',
    section as never,
    { logger, rng: Rng.fromSeed(checkpoint.meta.seed).derive('network'), config },
    'network',
  );
  try {
    restoreVariables(network, checkpoint.variables, path);
  } catch (error) {
    network.dispose();
    throw error;
  }
  return { network, meta: checkpoint.meta };
}
