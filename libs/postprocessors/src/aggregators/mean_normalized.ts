import { DataError } from '@oodkit/core';
import { checkPerLayer, type ScoreAggregator } from './aggregator.js';

/**
 * oodeel's MeanNormalizedAggregator (the original Gram detector's normalisation): with OOD scores
 * s = −conf, m_l = mean of layer l's ID s + 1e-10, and fused s = mean_l(s_l / m_l); conf = −s.
 */
export class MeanNormalizedAggregator implements ScoreAggregator {
  readonly name = 'mean_normalized';
  private means?: Float64Array;

  fit(perLayer: readonly Float64Array[]): void {
    const n = checkPerLayer(this.name, perLayer);
    if (n === 0) throw new DataError(`${this.name} aggregator: no ID scores to fit on`);
    this.means = Float64Array.from(perLayer, (conf) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += -conf[i]!;
      return sum / n + 1e-10;
    });
  }

  aggregate(perLayer: readonly Float64Array[]): Float64Array {
    const n = checkPerLayer(this.name, perLayer, this.means !== undefined);
    if (perLayer.length !== this.means!.length) {
      throw new DataError(`${this.name} aggregator: fitted on ${this.means!.length} layers, given ${perLayer.length}`);
    }
    const out = new Float64Array(n);
    const layers = perLayer.length;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let l = 0; l < layers; l++) sum += -perLayer[l]![i]! / this.means![l]!;
      out[i] = -(sum / layers);
    }
    return out;
  }
}
