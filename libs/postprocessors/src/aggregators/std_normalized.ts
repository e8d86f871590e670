import { DataError } from '@oodkit/core';
import { checkPerLayer, type ScoreAggregator } from './aggregator.js';

/**
 * oodeel's StdNormalizedAggregator (its default when a detector reads several layers): with OOD
 * scores s = −conf, σ_l = population std of layer l's ID s + 1e-10, fused s = mean_l(s_l / σ_l);
 * conf = −s.
 */
export class StdNormalizedAggregator implements ScoreAggregator {
  readonly name = 'std_normalized';
  private stds?: Float64Array;

  fit(perLayer: readonly Float64Array[]): void {
    const n = checkPerLayer(this.name, perLayer);
    if (n === 0) throw new DataError(`${this.name} aggregator: no ID scores to fit on`);
    this.stds = Float64Array.from(perLayer, (conf) => {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += -conf[i]!;
      mean /= n;
      let ss = 0;
      for (let i = 0; i < n; i++) ss += (-conf[i]! - mean) ** 2;
      return Math.sqrt(ss / n) + 1e-10;
    });
  }

  aggregate(perLayer: readonly Float64Array[]): Float64Array {
    const n = checkPerLayer(this.name, perLayer, this.stds !== undefined);
    if (perLayer.length !== this.stds!.length) {
      throw new DataError(`${this.name} aggregator: fitted on ${this.stds!.length} layers, given ${perLayer.length}`);
    }
    const out = new Float64Array(n);
    const layers = perLayer.length;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let l = 0; l < layers; l++) sum += -perLayer[l]![i]! / this.stds![l]!;
      out[i] = -(sum / layers);
    }
    return out;
  }
}
