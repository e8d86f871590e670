import { mkdtempSync, rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { readNpyAsFloat64 } from '@oodkit/core';
import type { OodEvaluationJson } from '@oodkit/evaluators';
import { runEvalFeaturesCommand } from '../src/commands/eval-features.js';
import { inputsFrom } from '../src/shared/options.js';

/**
 * `oodkit eval-features --postprocessor all [--aps]` against OpenOOD v1.5's Evaluator re-derived with
 * torch + faiss + scipy + sklearn on the same feature folder (tools/reference/openood_evaluator.py, run by
 * fixtures/make_openood_agreement.py): openmax (−P(unknown)), nnguide (the Evaluator's ordered bank),
 * ACC (the classifier's, in every row of every method), PRED_ACC, and react's searched sweep.
 */
const folder = fileURLToPath(new URL('./fixtures/openood-agreement/', import.meta.url));
type Row = Record<'FPR@95' | 'AUROC' | 'AUPR_IN' | 'AUPR_OUT' | 'ACC' | 'PRED_ACC', number>;
type Reference = Record<
  string,
  Record<'plain' | 'aps', { hyperparameters: Record<string, unknown> | null; rows: Record<string, Row>; test_conf: number[] }>
>;
const expected = JSON.parse(readFileSync(new URL('./fixtures/openood-agreement-expected.json', import.meta.url), 'utf8')) as Reference;

const root = mkdtempSync(join(tmpdir(), 'oodkit-openood-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const METRICS = ['FPR@95', 'AUROC', 'AUPR_IN', 'AUPR_OUT', 'ACC', 'PRED_ACC'] as const;

describe.each(['plain', 'aps'] as const)('eval-features --postprocessor all (%s) gives OpenOOD Evaluator numbers', (mode) => {
  let evaluations: OodEvaluationJson[];
  let out: string;

  beforeAll(async () => {
    out = join(root, mode);
    ({ evaluations } = await runEvalFeaturesCommand(
      { features: folder, postprocessor: 'all', aps: mode === 'aps' },
      inputsFrom({ overrides: ['--log_level=silent', '--compute.backend=cpu'], out }),
      { print: () => undefined },
    ));
  }, 120_000);

  it("ACC is the classifier's accuracy in every row of every method", () => {
    const acc = expected.msp![mode].rows.near!.ACC;
    expect(evaluations.length).toBeGreaterThan(10);
    for (const e of evaluations) for (const row of e.rows) expect(row.ACC, `${e.postprocessor} ${row.dataset}`).toBe(acc);
  });

  it.each(['msp', 'react', 'openmax', 'nnguide'])('%s: every row, PRED_ACC, chosen hyperparameters, ID test scores', async (name) => {
    const want = expected[name]![mode];
    const got = evaluations.find((e) => e.postprocessor === name)!;
    expect(got.rows.map((r) => r.dataset)).toEqual(Object.keys(want.rows));
    for (const row of got.rows) {
      // ×100 values. Everything agrees to 1e-6 pp except where float32 rounding (torch vs tfjs) turns a near-tie
      // into a tie or swaps it: one pair moves AUROC by 100/(N_id·N_ood) = 5e-4 pp here (seen once, react far).
      for (const m of METRICS) expect(Math.abs(row[m] - want.rows[row.dataset]![m]), `${name} ${row.dataset} ${m}`).toBeLessThan(1e-3);
    }
    if (want.hyperparameters) expect(got.hyperparameters).toMatchObject(want.hyperparameters);
    const conf = (await readNpyAsFloat64(join(out, `${name}__test.npy`))).data;
    want.test_conf.forEach((c, i) => expect(Math.abs(conf[i]! - c), `${name} test ${i}`).toBeLessThan(2e-5 * Math.max(1, Math.abs(c))));
  });
});
