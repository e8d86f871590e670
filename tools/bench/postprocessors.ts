/**
 * Setup and scoring time of every registered postprocessor that needs only features, on synthetic
 * class-clustered features: 50k×512 train, 10k×512 val, 10k×512 test, 3 OOD sets of 10k×512, C = 10.
 * Run: npm run bench:postprocessors [-- --only msp,knn] [--skip knn] [--scale 0.1] [--backend auto|tensorflow|wasm|cpu]
 * Prints a table and writes tools/bench/results/postprocessors.json.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { initCompute, tf, type BackendName } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, writeFileAtomic, type Postprocessor } from '@oodkit/core';
import { InMemoryFeatureSource, computeOodMetrics, evaluatorsModule, featureSplitsSchema, syntheticFeatures } from '@oodkit/evaluators';
import { postprocessorsModule } from '@oodkit/postprocessors';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const scale = Number(flag('scale') ?? '1');
const only = flag('only')?.split(',');
const skip = flag('skip')?.split(',') ?? [];
const backend = (flag('backend') ?? 'auto') as BackendName | 'auto';
const info = await initCompute({ backend });
const n = (x: number) => Math.max(1, Math.round(x * scale));
const sizes = { train: n(50_000), val: n(10_000), test: n(10_000), ood1: n(10_000), ood2: n(10_000), ood3: n(10_000) };

const t0 = performance.now();
const data = syntheticFeatures(Rng.fromSeed(0).derive('bench.postprocessors'), {
  numClasses: 10,
  featureDim: 512,
  separation: 1.5,
  sizes,
  kinds: { train: 'id', val: 'id', test: 'id', ood1: 'near', ood2: 'near', ood3: 'far' },
});
console.log(`synthetic features generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; backend ${info.backend}`);
const roles = featureSplitsSchema.parse({
  train: 'train',
  val: 'val',
  test: 'test',
  ood_val: 'ood1',
  near: ['ood1', 'ood2'],
  far: ['ood3'],
});
const source = new InMemoryFeatureSource(data.finalLayer, data.splits, roles, 4096);

const registry = registryOf(createOodkitContainer([postprocessorsModule, evaluatorsModule]));
const rows: Record<string, unknown>[] = [];
for (const name of registry.names('postprocessor')) {
  if ((only && !only.includes(name)) || skip.includes(name)) continue;
  const pp = await registry.build<Postprocessor>('postprocessor', name, {
    logger: silentLogger,
    rng: Rng.fromSeed(0).derive(name),
    config: {},
  });
  if (pp.needsNetwork) {
    console.log(`${name.padEnd(14)} skipped (needs the network)`);
    continue;
  }
  try {
    const load = loadavg()[0]!.toFixed(2);
    const s0 = performance.now();
    const setupData: Record<string, unknown> = {};
    for (const role of pp.requires) setupData[role] = await source.setupSplit(role);
    await pp.setup(source.model, setupData);
    const setupMs = performance.now() - s0;
    const c0 = performance.now();
    const id = await source.scoreSplit('test', pp);
    const oods = [];
    for (const split of ['ood1', 'ood2', 'ood3']) oods.push(await source.scoreSplit(split, pp));
    const scoreMs = performance.now() - c0;
    const aurocs = oods.map((o) => computeOodMetrics(id.conf, o.conf).auroc);
    const scored = id.conf.length + oods.reduce((s, o) => s + o.conf.length, 0);
    const row = {
      postprocessor: name,
      hyperparameters: pp.hyperparameters(),
      setupMs: Math.round(setupMs),
      scoreMs: Math.round(scoreMs),
      samplesPerSecond: Math.round(scored / (scoreMs / 1000)),
      auroc: aurocs.map((a) => Number((100 * a).toFixed(2))),
      tensorsAfter: tf.memory().numTensors,
      load1m: load,
    };
    rows.push(row);
    console.log(
      `${name.padEnd(14)} setup ${String(row.setupMs).padStart(7)} ms  score 40k ${String(row.scoreMs).padStart(7)} ms  ` +
        `AUROC ${row.auroc.join('/')}  load ${load}`,
    );
  } catch (error) {
    console.log(`${name.padEnd(14)} FAILED: ${(error as Error).message}`);
    rows.push({ postprocessor: name, error: (error as Error).message });
  } finally {
    pp.dispose?.();
  }
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'postprocessors.json');
mkdirSync(dirname(out), { recursive: true });
await writeFileAtomic(out, JSON.stringify({ node: process.version, backend: info.backend, sizes, rows }, null, 2) + '\n');
console.log(`wrote ${out}`);
