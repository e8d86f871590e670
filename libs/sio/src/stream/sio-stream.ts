import type { ImageDataset, Rng } from '@oodkit/core';
import { ConcatDataset, SampledStream, TwoSourceSampler, type Preprocessor } from '@oodkit/data';
import type { SioConfig } from '../config/sio-config.js';

export interface SioStreamOptions {
  readonly real: ImageDataset;
  /** Already conformed to the real set's shape (see loadSyntheticPair / generator output). */
  readonly synthetic: ImageDataset;
  readonly sio: Pick<SioConfig, 'real_ratio' | 'extra_percent' | 'mode'>;
  readonly batchSize: number;
  /** The same train chain the real images get. */
  readonly preprocess: readonly Preprocessor[];
  /** Training stream of the run (the same name as the plain stream's, so a ratio-1 SIO run equals the baseline's order). */
  readonly rng: Rng;
}

/**
 * SIO as a wrapper: the training stream becomes real ⊕ synthetic drawn by the TwoSourceSampler;
 * the trainer sees ordinary batches (synthetic samples have indices >= real.length).
 */
export function sioStream(options: SioStreamOptions): SampledStream {
  const { real, synthetic, sio, batchSize } = options;
  if (synthetic.numClasses !== real.numClasses) {
    throw new Error(`synthetic set has ${synthetic.numClasses} classes, the real set ${real.numClasses}`);
  }
  const dataset = new ConcatDataset(`${real.name}+${synthetic.name}`, [real, synthetic]);
  const sampler = new TwoSourceSampler({
    realCount: real.length,
    synCount: synthetic.length,
    batchSize,
    realRatio: sio.real_ratio,
    extraPercent: sio.extra_percent,
    mode: sio.mode,
    rng: options.rng.derive('sampler'),
  });
  return new SampledStream({
    dataset,
    sampler,
    preprocess: options.preprocess,
    rng: options.rng.derive('augment'),
    description:
      `SIO: ${real.length} real + ${sampler.synCount} synthetic (${synthetic.name}), batch ${batchSize} = ` +
      `${sampler.realBs} real + ${sampler.synBs} synthetic, ${sampler.stepsPerEpoch} steps/epoch (${sampler.mode})`,
  });
}
