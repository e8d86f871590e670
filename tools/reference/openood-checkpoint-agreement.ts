/**
 * `oodkit eval` on a PyTorch checkpoint vs OpenOOD's formulas on the same PNG images, for any architecture
 * tools/reference/openood_checkpoint_reference.py builds (lenet, resnet18_32x32):
 *   npx tsx tools/reference/openood-checkpoint-agreement.ts --arch resnet18_32x32 [--steps 40] [--seed 0]
 *       [--backend wasm|cpu] [--work <dir, kept>] [--out agreement.json] [--python /usr/bin/python3] [--onnx]
 * The script (Debian python3-torch, -torchvision, -sklearn, -faiss) writes an OpenOOD-layout data root, trains the
 * network briefly, saves torch.save(state_dict) and its reference metrics; then this runs
 * `oodkit eval --checkpoint <arch>.pth --network <arch> --benchmark benchmark.yml --data_dir data --postprocessor all`
 * in-process, without and with --aps, and prints per method of the reference the largest |difference| over every row
 * and metric (pp) and, with APS, the hyperparameters each side chose. With --onnx, the checkpoint is also
 * exported to ONNX (export_openood_checkpoint_onnx.py) and `oodkit eval --onnx <arch>.onnx --postprocessor all`
 * is compared with the checkpoint's evaluation, method by method (feature-based methods only run on it).
 * The ResNet-18 weights (~45 MB) are why this is a tool and not a committed fixture (the LeNet one is:
 * apps/cli/tests/eval-openood-checkpoint.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runEvalCommand } from '../../apps/cli/src/commands/eval.js';
import { inputsFrom } from '../../apps/cli/src/shared/options.js';

const METRICS = ['FPR@95', 'AUROC', 'AUPR_IN', 'AUPR_OUT', 'ACC', 'PRED_ACC'] as const;
type Row = Record<(typeof METRICS)[number], number>;

const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: 'resnet18_32x32' },
    steps: { type: 'string' },
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'wasm' },
    work: { type: 'string' },
    out: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    onnx: { type: 'boolean', default: false },
  },
});
const arch = values.arch!;
const work = values.work ? resolve(values.work) : mkdtempSync(join(tmpdir(), 'oodkit-checkpoint-agreement-'));

try {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'openood_checkpoint_reference.py');
  const t0 = performance.now();
  execFileSync(
    values.python!,
    [script, '--arch', arch, '--out', work, '--seed', values.seed!, ...(values.steps ? ['--steps', values.steps] : [])],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const tRef = (performance.now() - t0) / 1000;
  const reference = JSON.parse(readFileSync(join(work, 'reference.json'), 'utf8')) as {
    steps: number;
    methods: Record<string, { rows: Record<string, Row> }>;
    aps: Record<string, { rows: Record<string, Row>; hyperparameters: Record<string, unknown> }>;
  };

  const evalAll = (aps: boolean) =>
    runEvalCommand(
      { checkpoint: join(work, `${arch}.pth`), network: arch, postprocessor: 'all', aps },
      inputsFrom({
        overrides: [
          '--benchmark',
          join(work, 'benchmark.yml'),
          '--data_dir',
          join(work, 'data'),
          '--log_level=warn',
          `--compute.backend=${values.backend}`,
        ],
        out: join(work, aps ? 'oodkit-eval-aps' : 'oodkit-eval'),
      }),
      { print: () => undefined },
    );
  const t1 = performance.now();
  const plain = await evalAll(false);
  const tOurs = (performance.now() - t1) / 1000;
  const searched = await evalAll(true);

  console.log(`${arch}, ${reference.steps} SGD steps in PyTorch, backend ${values.backend}`);
  console.log('method     mode   max |Δ| over rows × metrics (pp)   worst            OpenOOD near / far AUROC   hyperparameters');
  const methods: Record<string, { maxDeltaPp: number; worst: string; hyperparameters?: unknown }> = {};
  let overall = 0;
  const runs = [
    ['plain', plain, reference.methods],
    ['aps', searched, reference.aps],
  ] as const;
  for (const [mode, result, wanted] of runs) {
    for (const [name, want] of Object.entries(wanted)) {
      const got = result.evaluations.find((e) => e.postprocessor === name);
      if (!got) throw new Error(`oodkit did not evaluate ${name}`);
      let worst = { delta: 0, where: '' };
      for (const row of got.rows)
        for (const m of METRICS) {
          const d = Math.abs(row[m] - want.rows[row.dataset]![m]);
          if (d > worst.delta) worst = { delta: d, where: `${row.dataset} ${m}` };
        }
      overall = Math.max(overall, worst.delta);
      const chosen =
        mode === 'aps' ? { oodkit: got.hyperparameters, openood: (want as { hyperparameters?: unknown }).hyperparameters } : undefined;
      methods[`${name}/${mode}`] = { maxDeltaPp: worst.delta, worst: worst.where, ...(chosen ? { hyperparameters: chosen } : {}) };
      console.log(
        `${name.padEnd(10)} ${mode.padEnd(6)} ${worst.delta.toExponential(2).padStart(12)}                    ${worst.where.padEnd(16)} ${want.rows.nearood!.AUROC.toFixed(2)} / ${want.rows.farood!.AUROC.toFixed(2)}   ${chosen ? JSON.stringify(chosen) : ''}`,
      );
    }
  }
  console.log(
    `largest |Δ| ${overall.toExponential(2)} pp; ${plain.evaluations.length} methods evaluated, skipped: ${plain.skipped.map((s) => s.postprocessor).join(', ') || 'none'}`,
  );
  console.log(
    `times: reference (data + training + OpenOOD formulas, plain and APS) ${tRef.toFixed(1)} s, oodkit eval --postprocessor all ${tOurs.toFixed(1)} s`,
  );
  const onnx: Record<string, number> = {};
  if (values.onnx) {
    const exporter = join(dirname(fileURLToPath(import.meta.url)), 'export_openood_checkpoint_onnx.py');
    execFileSync(values.python!, [exporter, '--arch', arch, '--dir', work], { stdio: ['ignore', 'inherit', 'inherit'] });
    const fromOnnx = await runEvalCommand(
      { onnx: join(work, `${arch}.onnx`), postprocessor: 'all' },
      inputsFrom({
        overrides: [
          '--benchmark',
          join(work, 'benchmark.yml'),
          '--data_dir',
          join(work, 'data'),
          '--log_level=warn',
          `--compute.backend=${values.backend}`,
        ],
        out: join(work, 'oodkit-eval-onnx'),
      }),
      { print: () => undefined },
    );
    console.log('method     max |Δ| onnx vs checkpoint over rows × metrics (pp)');
    for (const got of fromOnnx.evaluations) {
      const want = plain.evaluations.find((e) => e.postprocessor === got.postprocessor);
      if (!want) throw new Error(`${got.postprocessor} ran on the ONNX model but not on the checkpoint`);
      const delta = Math.max(...got.rows.flatMap((row, i) => METRICS.map((m) => Math.abs(row[m] - want.rows[i]![m]))));
      onnx[got.postprocessor] = delta;
      console.log(`${got.postprocessor.padEnd(10)} ${delta.toExponential(2).padStart(12)}`);
    }
    console.log(
      `onnx: ${fromOnnx.evaluations.length} methods evaluated, skipped: ${fromOnnx.skipped.map((s) => s.postprocessor).join(', ')}`,
    );
  }
  if (values.out)
    writeFileSync(
      values.out,
      `${JSON.stringify({ arch, steps: reference.steps, backend: values.backend, maxDeltaPp: overall, methods, ...(values.onnx ? { onnxVsCheckpointPp: onnx } : {}), seconds: { reference: tRef, oodkit: tOurs } }, null, 2)}\n`,
    );
  if (overall >= 0.05) process.exitCode = 1;
} finally {
  if (!values.work) rmSync(work, { recursive: true, force: true });
}
