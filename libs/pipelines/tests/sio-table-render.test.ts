import { describe, expect, it } from 'vitest';
import type { OodEvaluationJson } from '@oodkit/evaluators';
import {
  criticalT,
  metricVerdicts,
  pairedPowerNote,
  sioTableMarkdown,
  summarize,
  summaryTableRows,
  variantSioSection,
  type CellRecord,
  type GeneratorQuality,
} from '../src/index.js';

const METRICS = ['FPR@95', 'AUROC', 'AUPR_IN', 'AUPR_OUT', 'ACC', 'PRED_ACC'] as const;

/** One evaluated model with given near/far AUROC and FPR@95 (the other columns are filler). */
function cell(variant: string, seed: number, near: [number, number], far: [number, number], trainer = 'base'): CellRecord {
  const row = (dataset: string, [auroc, fpr]: [number, number]) => ({
    dataset,
    ...Object.fromEntries(METRICS.map((m) => [m, 50])),
    AUROC: auroc,
    'FPR@95': fpr,
  });
  const evaluation = {
    postprocessor: 'msp',
    hyperparameters: {},
    aps: null,
    grid: null,
    idAccuracy: 98 + seed / 10,
    predAccuracy: 98 + seed / 10,
    rows: [row('fashionmnist', near), row('nearood', near), row('farood', far)],
    scores: [],
  } as unknown as OodEvaluationJson;
  return { trainer, variant, seed, postprocessor: 'msp', evaluation, evalDir: '', trainAccuracy: null };
}

// near AUROC deltas 1, 2, 1 (t = 4, p = 1 − 4/√18 with df 2); far AUROC 5, 5, 5.5 (t = 31);
// near FPR@95 −1, +1, −1; far FPR@95 unchanged (no test possible). cgan: near AUROC −1, −2, −1.
const CELLS: CellRecord[] = [
  cell('baseline', 0, [80, 50], [90, 30]),
  cell('baseline', 1, [82, 52], [91, 30]),
  cell('baseline', 2, [81, 51], [92, 30]),
  cell('sio', 2, [82, 50], [97.5, 30]),
  cell('sio', 0, [81, 49], [95, 30]),
  cell('sio', 1, [84, 53], [96, 30]),
  cell('cgan', 0, [79, 50], [90, 30]),
  cell('cgan', 1, [80, 52], [91, 30]),
  cell('cgan', 2, [80, 51], [92, 30]),
];

const QUALITY: GeneratorQuality[] = [
  {
    generator: 'cvae',
    variants: ['sio'],
    samples: 100,
    sampleAccuracy: 81.4,
    sampleAccuracyPerClass: [80, 100, 76, 93, 80, 92, 85, 91, 58, 58],
    realAccuracy: 98.5,
    realAccuracyPerClass: Array(10).fill(98.5),
    frechet: 12.345,
    frechetRealFloor: 0.456,
    judge: { trainer: 'base', seed: 0, checkpoint: 'checkpoints/best.ckpt' },
  },
];

describe('SIO table: paired tests and rendering on synthetic results', () => {
  const summary = summarize(CELLS);

  it('one row per (trainer, method, SIO variant), paired by seed whatever the cell order', () => {
    expect(summary.rows.map((r) => [r.trainer, r.postprocessor, r.variant])).toEqual([
      ['base', 'msp', 'sio'],
      ['base', 'msp', 'cgan'],
    ]);
    const sio = summary.rows[0]!;
    const near = sio.paired.nearAuroc!;
    expect(near.seeds).toEqual([0, 1, 2]);
    expect(near.deltas).toEqual([1, 2, 1]);
    expect(near.t).toBeCloseTo(4, 12);
    expect(near.p).toBeCloseTo(1 - 4 / Math.sqrt(18), 12);
    expect(near.significant).toBe(false); // 0.0572
    const far = sio.paired.farAuroc!;
    expect(far.t).toBeCloseTo(31, 10);
    expect(far.p).toBeCloseTo(1 - 31 / Math.sqrt(2 + 31 * 31), 12);
    expect(far.significant).toBe(true);
    expect(sio.paired.nearFpr95!.signs).toEqual([-1, 1, -1]);
    expect(sio.paired.farFpr95!.p).toBeNaN();
    expect(sio.paired.farFpr95!.significant).toBe(false);
    expect(summary.rows[1]!.paired.nearAuroc!.signs).toEqual([-1, -1, -1]);
    expect(sio.nearAuroc.sio!.mean).toBeCloseTo(247 / 3, 12);
  });

  it('pairs only the seeds both variants have', () => {
    const partial = summarize(CELLS.filter((c) => !(c.variant === 'sio' && c.seed === 1)));
    expect(partial.rows[0]!.paired.nearAuroc!.seeds).toEqual([0, 2]);
    expect(partial.rows[0]!.paired.nearAuroc!.deltas).toEqual([1, 1]);
  });

  it('summary.csv carries p and the signs per metric and the SIO variant', () => {
    const [header, sioLine, cganLine] = summary.csv.trim().split('\n');
    const cols = header!.split(',');
    const at = (line: string, name: string) => line.split(',')[cols.indexOf(name)];
    expect(cols).toEqual(expect.arrayContaining(['nearAuroc_p', 'nearAuroc_signs', 'farFpr95_p', 'sio_variant']));
    expect(cols.at(-1)).toBe('hyperparameters_sio');
    expect(Number(at(sioLine!, 'nearAuroc_p'))).toBeCloseTo(0.05719, 4);
    expect(at(sioLine!, 'nearAuroc_signs')).toBe('+++');
    expect(at(sioLine!, 'nearFpr95_signs')).toBe('−+−');
    expect(at(sioLine!, 'farFpr95_p')).toBe('');
    expect(at(cganLine!, 'sio_variant')).toBe('cgan');
    expect(at(cganLine!, 'nearAuroc_signs')).toBe('−−−');
  });

  it('the console table shows Δ with p (starred below 0.05) and the signs, and the variant', () => {
    const { head, rows } = summaryTableRows(summary);
    expect(head.slice(0, 3)).toEqual(['method', 'SIO variant', 'near AUROC ↑ base → SIO (Δ)']);
    expect(rows[0]![2]).toBe('81.00 → 82.33 (+1.33, p 0.057 +++)');
    expect(rows[0]![3]).toBe('91.00 → 96.17 (+5.17, p 0.001* +++)');
    expect(rows[0]![5]).toBe('30.00 → 30.00 (+0.00, p – 000)');
  });

  it('the Markdown table: bold significant deltas, verdicts per variant, generator quality, the power note', () => {
    const md = sioTableMarkdown([{ benchmark: 'mnist', summary, seeds: [0, 1, 2], generatorQuality: QUALITY }]);
    expect(md).toContain('## mnist');
    expect(md).toContain('| base | msp | sio | 81.00 ± 0.82 → 82.33 ± 1.25 | +1.33 (p 0.057, +++) |');
    expect(md).toContain('| **+5.17** (p 0.001*, +++) |');
    expect(md).toContain('- near AUROC ↑: SIO better in 1 of 1 rows (0 significant), worse in 0 (0 significant); mean Δ +1.33');
    expect(md).toContain('- far AUROC ↑: SIO better in 1 of 1 rows (1 significant)');
    // FPR@95: lower is better
    expect(md).toContain('- near FPR@95 ↓: SIO better in 1 of 1 rows (0 significant), worse in 0 (0 significant); mean Δ -0.33');
    expect(md).toMatch(/SIO variant `cgan` \(1 rows\):\n- near AUROC ↑: SIO better in 0 of 1 rows \(0 significant\), worse in 1/);
    expect(md).toContain('| cvae | sio | 100 | 81.4 | 80 100 76 93 80 92 85 91 58 58 | 98.5 | 12.3 | 0.456 |');
    expect(md).toContain('|t| > 4.303');
    expect(md).toContain('2.48 × sd(Δ)');
    expect(md).toContain('probability 0.250');
  });

  it('verdicts count by direction of improvement', () => {
    const v = metricVerdicts(summary.rows.filter((r) => r.variant === 'sio'));
    expect(v.map((m) => [m.metric, m.better, m.worse, m.betterSignificant])).toEqual([
      ['nearAuroc', 1, 0, 0],
      ['farAuroc', 1, 0, 1],
      ['nearFpr95', 1, 0, 0],
      ['farFpr95', 0, 0, 0],
    ]);
  });

  it('critical t values equal scipy.stats.t.ppf(0.975, df)', () => {
    expect(criticalT(2)).toBeCloseTo(4.302652729911275, 9);
    expect(criticalT(4)).toBeCloseTo(2.7764451051977987, 9);
    expect(criticalT(29)).toBeCloseTo(2.045229642132703, 9);
    expect(pairedPowerNote(1)).toMatch(/no paired test/);
    // 5 seeds: 2·0.5⁵ = 0.0625, still above 0.05
    expect(pairedPowerNote(5)).toContain('probability 0.063');
    expect(pairedPowerNote(10)).not.toContain('missed most of the time');
  });

  it('variant sio sections: keys merge, another generator replaces the synthetic block', () => {
    const sio = { enabled: true, real_ratio: 0.8, synthetic: { name: 'cvae', count: 100, args: { epochs: 2 } } };
    expect(variantSioSection(sio, { name: 'r', sio: true, sioOverrides: { real_ratio: 0.5 } })).toEqual({ ...sio, real_ratio: 0.5 });
    expect(variantSioSection(sio, { name: 'a', sio: true, sioOverrides: { synthetic: { args: { epochs: 3 } } } })!.synthetic).toEqual({
      name: 'cvae',
      count: 100,
      args: { epochs: 3 },
    });
    expect(variantSioSection(sio, { name: 'g', sio: true, sioOverrides: { synthetic: { name: 'cgan', count: 50 } } })!.synthetic).toEqual({
      name: 'cgan',
      count: 50,
    });
    expect(variantSioSection(sio, { name: 'baseline', sio: false, sioOverrides: {} })).toBeUndefined();
    expect(sio.real_ratio).toBe(0.8);
  });
});
