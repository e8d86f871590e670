import { tf } from '@oodkit/compute';
import { PENULTIMATE_LAYER, UsageError, featureLayersOf, type Classifier } from '@oodkit/core';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';

/**
 * Global average pooling of a block's map, OpenOOD mds_ensemble's 'mean' feature type: an NHWC map
 * [N, H, W, C] → [N, C] (the mean over H·W per channel); a [N, D] feature is returned as it is.
 */
export function globalAveragePool(block: Tensor): Tensor2D {
  if (block.rank === 2) return block as Tensor2D;
  if (block.rank !== 4) throw new UsageError(`globalAveragePool: expected a [N, H, W, C] map or [N, D] features, got rank ${block.rank}`);
  return tf.mean(block, [1, 2]) as Tensor2D;
}

/** The layers `wanted` checked against the network's feature layers (an unknown one is named with the ones it has). */
export function checkFeatureLayers(network: Pick<Classifier, 'name' | 'blockNames'>, wanted: readonly string[]): void {
  const known = featureLayersOf(network);
  for (const layer of wanted) {
    if (!known.includes(layer)) {
      throw new UsageError(`network '${network.name}' has no feature layer '${layer}' (its layers: ${known.join(', ')})`);
    }
  }
}

/**
 * Logits, z and the globally average-pooled features of `layers` ('penultimate' is z itself) in one
 * forward pass in inference mode. Every returned tensor belongs to the caller.
 */
export function pooledFeatureLayers(
  network: Classifier,
  x: tf.Tensor4D,
  layers: readonly string[],
): { logits: Tensor2D; features: Tensor2D; layers: Record<string, Tensor2D> } {
  checkFeatureLayers(network, layers);
  return tf.tidy(() => {
    if (layers.every((l) => l === PENULTIMATE_LAYER)) {
      const { logits, features } = network.forwardFeatures(x, false);
      return { logits, features, layers: Object.fromEntries(layers.map((l) => [l, tf.clone(features)])) };
    }
    const out = network.forwardBlocks(x);
    const names = network.blockNames ?? [];
    const pooled: Record<string, Tensor2D> = {};
    for (const layer of layers) {
      pooled[layer] = layer === PENULTIMATE_LAYER ? tf.clone(out.features) : globalAveragePool(out.blocks[names.indexOf(layer)]!);
    }
    return { logits: out.logits, features: out.features, layers: pooled };
  });
}
