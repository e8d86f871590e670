/**
 * oodkit vs OpenOOD v1.5's Evaluator on any feature folder, e.g. one `oodkit feat-extract` wrote from the
 * embedded MNIST benchmark:
 *   npx tsx tools/reference/openood-agreement.ts --dir <feature folder> [--out agreement.json] [--python /usr/bin/python3]
 * Runs `eval-features --postprocessor all` with and without --aps, runs tools/reference/openood_evaluator.py
 * (torch + faiss + scipy + sklearn; Debian: python3-torch python3-sklearn python3-scipy python3-faiss python3-yaml)
 * on the same folder, and prints per method the largest |difference| over every row and metric (×100), the
 * ACC check (the classifier's accuracy in every row of every method), PRED_ACC − ACC per method, and the
 * effect of nnguide's former random bank (`bank: random, bank_batch_size: 1`) against OpenOOD's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readNpyAsFloat64 } from '@oodkit/core';
import type { OodEvaluationJson } from '@oodkit/evaluators';
import { runEvalFeaturesCommand } from '../../apps/cli/src/commands/eval-features.js';
import { inputsFrom } from '../../apps/cli/src/shared/options.js';

const METRICS = ['FPR@95', 'AUROC', 'AUPR_IN', 'AUPR_OUT', 'ACC', 'PRED_ACC'] as const;
type Row = Record<(typeof METRICS)[number], number>;
type Reference = Record<string, Record<'plain' | 'aps', { hyperparameters: unknown; rows: Record<string, Row>; test_conf: number[] }>>;

const { values } = parseArgs({
  options: { dir: { type: 'string' }, out: { type: 'string' }, python: { type: 'string', default: '/usr/bin/python3' } },
});
if (!values.dir) throw new Error('--dir <feature folder> is required');
const dir = resolve(values.dir);
const work = mkdtempSync(join(tmpdir(), 'oodkit-agreement-'));

/** Spearman rank correlation (average ranks for ties). */
function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const rank = (x: ArrayLike<number>) => {
    const idx = Array.from({ length: x.length }, (_, i) => i).sort((i, j) => x[i]! - x[j]!);
    const r = new Float64Array(x.length);
    for (let s = 0; s < idx.length;) {
      let e = s;
      while (e + 1 < idx.length && x[idx[e + 1]!] === x[idx[s]!]) e++;
      for (let k = s; k <= e; k++) r[idx[k]!] = (s + e) / 2;
      s = e + 1;
    }
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const mean = (ra.length - 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return num / Math.sqrt(da * db);
}

try {
  const t0 = performance.now();
  const refFile = join(work, 'openood.json');
  const script = join(dirname(fileURLToPath(import.meta.url)), 'openood_evaluator.py');
  execFileSync(values.python!, [script, dir, refFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  const reference = JSON.parse(readFileSync(refFile, 'utf8')) as Reference;
  const tRef = (performance.now() - t0) / 1000;

  // `oodkit eval-features --features <dir> --postprocessor <pp> [--aps] -o <out> <overrides>`, in-process.
  const evalFeatures = async (postprocessor: string, aps: boolean, out: string, overrides: string[] = []) =>
    (
      await runEvalFeaturesCommand(
        { features: dir, postprocessor, aps },
        inputsFrom({ overrides: ['--log_level=silent', ...overrides], out }),
        { print: () => undefined },
      )
    ).evaluations;
  const t1 = performance.now();
  const runs: Record<'plain' | 'aps', OodEvaluationJson[]> = {
    plain: await evalFeatures('all', false, join(work, 'plain')),
    aps: await evalFeatures('all', true, join(work, 'aps')),
  };
  const tOurs = (performance.now() - t1) / 1000;

  const report: Record<string, unknown> = { dir, seconds: { openood_reference: tRef, oodkit_all_plain_and_aps: tOurs } };
  console.log(`feature folder ${dir}`);
  console.log('method   mode   max |Δ| over rows×metrics (pp)   worst');
  const methods: Record<string, unknown> = {};
  for (const [name, modes] of Object.entries(reference)) {
    for (const mode of ['plain', 'aps'] as const) {
      const got = runs[mode].find((e) => e.postprocessor === name);
      if (!got) throw new Error(`oodkit did not evaluate ${name}`);
      let worst = { delta: 0, where: '' };
      for (const row of got.rows) {
        for (const m of METRICS) {
          const d = Math.abs(row[m] - modes[mode].rows[row.dataset]![m]);
          if (d > worst.delta) worst = { delta: d, where: `${row.dataset} ${m}` };
        }
      }
      methods[`${name}/${mode}`] = { maxDeltaPp: worst.delta, worst: worst.where, hyperparameters: got.hyperparameters };
      console.log(`${name.padEnd(8)} ${mode.padEnd(6)} ${worst.delta.toExponential(2).padStart(10)}   ${worst.where}`);
    }
  }
  report.methods = methods;

  const acc = reference.msp!.plain.rows[Object.keys(reference.msp!.plain.rows)[0]!]!.ACC;
  const accRows = runs.plain.concat(runs.aps).flatMap((e) => e.rows.map((r) => r.ACC));
  const accDelta = Math.max(...accRows.map((a) => Math.abs(a - acc)));
  console.log(
    `ACC: OpenOOD ${acc.toFixed(4)}; largest |Δ| over ${accRows.length} oodkit rows of ${runs.plain.length} methods: ${accDelta}`,
  );
  const predAcc = Object.fromEntries(runs.plain.map((e) => [e.postprocessor, e.predAccuracy - e.idAccuracy]));
  console.log(
    'PRED_ACC − ACC (pp), methods where they differ:',
    Object.entries(predAcc)
      .filter(([, d]) => Math.abs(d) > 1e-9)
      .map(([n, d]) => `${n} ${d.toFixed(2)}`)
      .join(', ') || 'none',
  );
  report.acc = { openood: acc, maxDelta: accDelta, predAccMinusAcc: predAcc };

  // nnguide's former bank rule (⌊N·α⌋ + 1 random rows) against OpenOOD's.
  const oldOut = join(work, 'nnguide-old');
  const old = (
    await evalFeatures('nnguide', false, oldOut, ['--postprocessor.args.bank=random', '--postprocessor.args.bank_batch_size=1'])
  )[0]!;
  const ref = reference.nnguide!.plain;
  const oldConf = (await readNpyAsFloat64(join(oldOut, old.scores[0]!.file))).data;
  const deltas = old.rows.map((r) => ({ dataset: r.dataset, fpr95: r['FPR@95'] - ref.rows[r.dataset]!['FPR@95'] }));
  const rho = spearman(oldConf, ref.test_conf);
  console.log(
    `nnguide bank: random (former rule) vs OpenOOD: Spearman of ID test scores ${rho.toFixed(3)}; FPR@95 Δ ${deltas.map((d) => `${d.dataset} ${d.fpr95.toFixed(2)}`).join(', ')}`,
  );
  report.nnguideFormerRule = { spearman: rho, fpr95Delta: deltas };
  console.log(`times: OpenOOD reference ${tRef.toFixed(1)} s, oodkit all plain + aps ${tOurs.toFixed(1)} s`);
  if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
