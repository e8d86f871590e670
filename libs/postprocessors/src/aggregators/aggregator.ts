import { DataError } from '@oodkit/core';

/**
 * Fuses the scores one detector gives on several feature layers into one score per sample, after
 * fitting statistics on ID scores (oodeel's BaseAggregator). Scores are oodkit confidences (higher =
 * more in-distribution) in and out; oodeel's aggregators work on OOD scores (higher = more OOD), so
 * each implementation negates on the way in and out, which keeps oodeel's arithmetic exact.
 */
export interface ScoreAggregator {
  readonly name: string;
  /** Fit on the ID scores of each layer (one array per layer, equal lengths). */
  fit(perLayer: readonly Float64Array[]): void;
  /** One fused confidence per sample. */
  aggregate(perLayer: readonly Float64Array[]): Float64Array;
}

/** The per-layer score arrays checked: at least one layer, equal lengths, every value finite. */
export function checkPerLayer(aggregator: string, perLayer: readonly Float64Array[], fitted = true): number {
  if (!fitted) throw new DataError(`${aggregator} aggregator: aggregate called before fit`);
  if (perLayer.length === 0) throw new DataError(`${aggregator} aggregator: no layer scores`);
  const n = perLayer[0]!.length;
  perLayer.forEach((scores, l) => {
    if (scores.length !== n) throw new DataError(`${aggregator} aggregator: layer ${l} has ${scores.length} scores, layer 0 has ${n}`);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(scores[i]!)) throw new DataError(`${aggregator} aggregator: layer ${l} score ${i} is ${scores[i]}`);
    }
  });
  return n;
}
