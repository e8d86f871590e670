import type { ScoreAggregator } from './aggregator.js';
import { FisherAggregator } from './fisher.js';
import { MeanNormalizedAggregator } from './mean_normalized.js';
import { StdNormalizedAggregator } from './std_normalized.js';

export * from './aggregator.js';
export { FisherAggregator } from './fisher.js';
export { MeanNormalizedAggregator } from './mean_normalized.js';
export { StdNormalizedAggregator } from './std_normalized.js';

/** The aggregators by config name (oodeel's three). */
export const SCORE_AGGREGATORS = {
  fisher: () => new FisherAggregator(),
  mean_normalized: () => new MeanNormalizedAggregator(),
  std_normalized: () => new StdNormalizedAggregator(),
} as const satisfies Record<string, () => ScoreAggregator>;

export type AggregatorName = keyof typeof SCORE_AGGREGATORS;
export const AGGREGATOR_NAMES = Object.keys(SCORE_AGGREGATORS) as AggregatorName[];

/** oodeel's default when a detector reads several layers and names no aggregator. */
export const DEFAULT_AGGREGATOR: AggregatorName = 'std_normalized';
