/**
 * The heavy feature-based postprocessors side by side with OpenOOD's implementation, in one run on
 * the same synthetic features at the same thread count: oodkit's knn, relation, nnguide, mds, vim
 * and rmds (setup on the train split, scoring of test + 3 OOD splits), then
 * tools/reference/heavy_methods_reference.py (OpenOOD's formulas with faiss / torch / numpy / sklearn)
 * on the same features written as .npy. Scores of both sides are compared row by row.
 * Run: npx tsx tools/bench/heavy-methods.ts [--scale 0.2] [--threads 2] [--methods knn,mds]
 *      [--order oodkit-first|reference-first] [--python /usr/bin/python3] [--out FILE]
 * Sizes at --scale 1: 50,000 × 512 train, 4 × 10,000 scored rows, C = 10 (ResNet-18 / CIFAR-10).
 * Prints a table and writes tools/bench/results/heavy-methods.json (or --out).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { denseLinalg, initCompute, linalgSettings, tf } from '@oodkit/compute';
import {
  Rng,
  createOodkitContainer,
  readNpySync,
  registryOf,
  silentLogger,
  writeFileAtomic,
  writeNpySync,
  type Postprocessor,
} from '@oodkit/core';
import { InMemoryFeatureSource, evaluatorsModule, featureSplitsSchema, syntheticFeatures } from '@oodkit/evaluators';
import { postprocessorsModule } from '@oodkit/postprocessors';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const METHODS = ['knn', 'relation', 'nnguide', 'mds', 'vim', 'rmds'];
const scale = Number(flag('scale') ?? '1');
const threads = Number(flag('threads') ?? '2');
const methods = flag('methods')?.split(',') ?? METHODS;
const order = flag('order') ?? 'oodkit-first';
const python = flag('python') ?? '/usr/bin/python3';
const here = dirname(fileURLToPath(import.meta.url));
const outFile = flag('out') ?? join(here, 'results', 'heavy-methods.json');
for (const m of methods)
  if (!METHODS.includes(m)) throw new Error(`--methods: unknown method '${m}'; expected some of ${METHODS.join(', ')}`);
if (!['oodkit-first', 'reference-first'].includes(order))
  throw new Error(`--order: expected oodkit-first or reference-first, got '${order}'`);

const info = await initCompute({ backend: 'wasm', threads });
// onnxruntime-node is imported and its environment started here, as the reference script imports
// numpy, torch, sklearn and faiss before its clock starts; the methods' own sessions and runs are timed.
const linalg = (await denseLinalg()) ? 'onnxruntime' : 'backend';
const n = (x: number) => Math.max(1, Math.round(x * scale));
const sizes = { train: n(50_000), test: n(10_000), ood1: n(10_000), ood2: n(10_000), ood3: n(10_000) };
const scoredSplits = ['test', 'ood1', 'ood2', 'ood3'];
const data = syntheticFeatures(Rng.fromSeed(0).derive('bench.heavy-methods'), {
  numClasses: 10,
  featureDim: 512,
  separation: 1.5,
  sizes,
  kinds: { train: 'id', test: 'id', ood1: 'near', ood2: 'near', ood3: 'far' },
});
const roles = featureSplitsSchema.parse({ train: 'train', test: 'test', near: ['ood1', 'ood2'], far: ['ood3'] });
const source = new InMemoryFeatureSource(data.finalLayer, data.splits, roles, 4096);
const split = (name: string) => data.splits.find((s) => s.name === name)!;
const { numClasses: c, featureDim: d } = data.finalLayer;
console.log(
  `train ${sizes.train} × ${d}, scored ${scoredSplits.map((s) => sizes[s as keyof typeof sizes]).join(' + ')}; wasm ${info.threads} threads; dense products: ${linalg} (compute.linalg ${linalgSettings().mode})`,
);

const work = mkdtempSync(join(tmpdir(), 'oodkit-heavy-'));
try {
  const train = split('train');
  writeNpySync(join(work, 'train_features.npy'), { data: train.features, shape: [train.count, d] });
  writeNpySync(join(work, 'train_labels.npy'), { data: train.labels, shape: [train.count] });
  writeNpySync(join(work, 'fc_weight.npy'), { data: data.finalLayer.weight, shape: [c, d] });
  writeNpySync(join(work, 'fc_bias.npy'), { data: data.finalLayer.bias, shape: [c] });
  const scoredCount = scoredSplits.reduce((s, name) => s + split(name).count, 0);
  const scored = new Float32Array(scoredCount * d);
  let at = 0;
  for (const name of scoredSplits) {
    scored.set(split(name).features, at);
    at += split(name).features.length;
  }
  writeNpySync(join(work, 'scored_features.npy'), { data: scored, shape: [scoredCount, d] });

  const runOodkit = async () => {
    const registry = registryOf(createOodkitContainer([postprocessorsModule, evaluatorsModule]));
    const rows: { method: string; setupS: number; scoreS: number; conf: Float64Array; load1m: number }[] = [];
    for (const method of methods) {
      const pp = await registry.build<Postprocessor>('postprocessor', method, {
        logger: silentLogger,
        rng: Rng.fromSeed(0).derive(method),
        config: {},
      });
      try {
        const load1m = loadavg()[0]!;
        const s0 = performance.now();
        const setupData: Record<string, unknown> = {};
        for (const role of pp.requires) setupData[role] = await source.setupSplit(role);
        await pp.setup(source.model, setupData);
        const s1 = performance.now();
        const parts = [];
        for (const name of scoredSplits) parts.push((await source.scoreSplit(name, pp)).conf);
        const s2 = performance.now();
        const conf = new Float64Array(scoredCount);
        let o = 0;
        for (const p of parts) {
          conf.set(p, o);
          o += p.length;
        }
        rows.push({ method, setupS: (s1 - s0) / 1000, scoreS: (s2 - s1) / 1000, conf, load1m });
        console.log(
          `oodkit    ${method.padEnd(9)} setup ${((s1 - s0) / 1000).toFixed(2).padStart(7)} s  score ${((s2 - s1) / 1000).toFixed(2).padStart(7)} s  load ${load1m.toFixed(2)}`,
        );
      } finally {
        pp.dispose?.();
      }
    }
    return rows;
  };
  const runReference = () => {
    const load1m = loadavg()[0]!;
    const r = spawnSync(
      python,
      [
        join(here, '..', 'reference', 'heavy_methods_reference.py'),
        '--features',
        work,
        '--out',
        join(work, 'ref'),
        '--threads',
        String(threads),
        '--methods',
        methods.join(','),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (r.status !== 0) throw new Error(`${python} heavy_methods_reference.py failed (exit ${r.status})`);
    const json = JSON.parse(readFileSync(join(work, 'ref', 'reference.json'), 'utf8')) as {
      batch: number;
      versions: Record<string, string>;
      results: { method: string; setup_s: number; score_s: number }[];
    };
    return { load1m, json };
  };

  let ours: Awaited<ReturnType<typeof runOodkit>>;
  let ref: ReturnType<typeof runReference>;
  if (order === 'oodkit-first') {
    ours = await runOodkit();
    ref = runReference();
  } else {
    ref = runReference();
    ours = await runOodkit();
  }

  const table = methods.map((method) => {
    const o = ours.find((r) => r.method === method)!;
    const p = ref.json.results.find((r) => r.method === method)!;
    const refConf = readNpySync(join(work, 'ref', `${method}_conf.npy`)).data as Float64Array;
    let maxAbs = 0;
    let scaleAbs = 0;
    for (let i = 0; i < o.conf.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(o.conf[i]! - refConf[i]!));
      scaleAbs = Math.max(scaleAbs, Math.abs(refConf[i]!));
    }
    const oodkitTotal = o.setupS + o.scoreS;
    const openoodTotal = p.setup_s + p.score_s;
    return {
      method,
      oodkit: { setupS: round(o.setupS), scoreS: round(o.scoreS), totalS: round(oodkitTotal), load1m: round(o.load1m) },
      openood: { setupS: round(p.setup_s), scoreS: round(p.score_s), totalS: round(openoodTotal) },
      ratio: round(oodkitTotal / openoodTotal),
      maxAbsDiff: maxAbs,
      maxRelDiff: maxAbs / Math.max(scaleAbs, 1e-30),
    };
  });
  console.log(
    `\n| method | oodkit setup s | oodkit score s | OpenOOD setup s | OpenOOD score s | oodkit / OpenOOD (total) | max |Δconf| / max |conf| |`,
  );
  console.log(`|---|---|---|---|---|---|---|`);
  for (const t of table) {
    console.log(
      `| ${t.method} | ${t.oodkit.setupS} | ${t.oodkit.scoreS} | ${t.openood.setupS} | ${t.openood.scoreS} | ${t.ratio}× | ${t.maxRelDiff.toExponential(1)} |`,
    );
  }
  mkdirSync(dirname(outFile), { recursive: true });
  await writeFileAtomic(
    outFile,
    JSON.stringify(
      {
        node: process.version,
        threads,
        wasmThreads: info.threads,
        linalg,
        order,
        referenceBatch: ref.json.batch,
        referenceVersions: ref.json.versions,
        referenceLoad1m: round(ref.load1m),
        sizes,
        featureDim: d,
        rows: table,
        tensorsAfter: tf.memory().numTensors,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${outFile}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
