/**
 * What decoding OpenOOD's test transform with libvips' resize instead of Pillow's changes: pixels,
 * logits and OOD metrics, for a PyTorch-trained OpenOOD LeNet on 64×64 PNGs resized to 28 (see
 * resize_reference.py, which writes the data, the torch.save checkpoint and PyTorch's logits).
 * Run:
 *   /usr/bin/python3 tools/bench/resize_reference.py /tmp/resize-effect 2000
 *   npx tsx tools/bench/resize-effect.ts /tmp/resize-effect
 * Prints the figures and writes tools/bench/results/resize-effect.json.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, npyToFloat32, readNpy, registryOf, silentLogger, writeFileAtomic } from '@oodkit/core';
import { ImglistDataset, normalize } from '@oodkit/data';
import { computeOodMetrics } from '@oodkit/evaluators';
import { loadTorchCheckpoint, networksModule, type TrunkClassifier } from '@oodkit/networks';

const work = process.argv[2] ?? '/tmp/resize-effect';
await initCompute({ backend: 'wasm', logger: silentLogger });
const registry = registryOf(createOodkitContainer([networksModule]));
const net = (await registry.build(
  'network',
  { name: 'lenet', args: { in_channels: 3 } },
  { logger: silentLogger, rng: Rng.fromSeed(0), config: {} },
)) as TrunkClassifier;
const report = await loadTorchCheckpoint(net, join(work, 'lenet_mnist.pth'));

interface Run {
  pixels: Uint8Array;
  logits: Float32Array;
  labels: Int32Array;
}

async function run(split: string, resize: 'pil' | 'libvips'): Promise<Run> {
  const ds = await ImglistDataset.open({
    list: join(work, `${split}.txt`),
    root: join(work, 'images'),
    numClasses: 10,
    imageSize: 28,
    preSize: 28,
    channels: 3,
    missing: 'fail',
    resize,
  });
  const pixels = await ds.readImages(Int32Array.from({ length: ds.length }, (_, i) => i));
  const x = normalize([0.5], [0.5]).apply({ n: ds.length, h: 28, w: 28, c: 3, data: pixels }, Rng.fromSeed(0)).data as Float32Array;
  const logits = tf.tidy(() => net.forward(tf.tensor4d(x, [ds.length, 28, 28, 3])).dataSync() as Float32Array);
  return { pixels, logits: Float32Array.from(logits), labels: ds.labels };
}

function msp(logits: Float32Array): { conf: Float64Array; pred: Int32Array } {
  const n = logits.length / 10;
  const conf = new Float64Array(n);
  const pred = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * 10, i * 10 + 10);
    const max = Math.max(...row);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    conf[i] = 1 / sum;
    pred[i] = row.indexOf(max);
  }
  return { conf, pred };
}

function energy(logits: Float32Array): Float64Array {
  const n = logits.length / 10;
  return Float64Array.from({ length: n }, (_, i) => {
    const row = logits.subarray(i * 10, i * 10 + 10);
    const max = Math.max(...row);
    return max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  });
}

function pixelStats(a: Uint8Array, b: Uint8Array) {
  let differing = 0;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d) differing++;
    max = Math.max(max, d);
    sum += d;
  }
  return { fraction_differing: differing / a.length, mean_abs: sum / a.length, max_abs: max };
}

const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const out: Record<string, unknown> = { work, load: loadavg()[0], checkpoint: { format: report.format, loaded: report.loaded.length } };
const runs: Record<string, Record<string, Run>> = {};
for (const split of ['mnist', 'fashion']) {
  runs[split] = { pil: await run(split, 'pil'), libvips: await run(split, 'libvips') };
  const torch = npyToFloat32(await readNpy(join(work, `${split}_torch_logits.npy`)));
  out[split] = {
    images: runs[split].pil.labels.length,
    pixels_libvips_vs_pil: pixelStats(runs[split].libvips.pixels, runs[split].pil.pixels),
    max_abs_logit_pil_vs_pytorch: maxAbs(runs[split].pil.logits, torch),
    max_abs_logit_libvips_vs_pytorch: maxAbs(runs[split].libvips.logits, torch),
  };
}
const metrics: Record<string, unknown> = {};
for (const resize of ['pil', 'libvips'] as const) {
  const id = runs.mnist[resize];
  const ood = runs.fashion[resize];
  const m = msp(id.logits);
  const pct = (v: number | null) => (v === null ? null : Number((100 * v).toFixed(3)));
  const fmt = (r: ReturnType<typeof computeOodMetrics>) => ({
    auroc: pct(r.auroc),
    fpr95: pct(r.fpr95),
    aupr_in: pct(r.auprIn),
    aupr_out: pct(r.auprOut),
    acc: pct(r.acc),
  });
  metrics[resize] = {
    msp: fmt(computeOodMetrics(m.conf, msp(ood.logits).conf, { idPred: m.pred, idLabels: id.labels })),
    ebo: fmt(computeOodMetrics(energy(id.logits), energy(ood.logits))),
  };
}
out.metrics = metrics;
console.log(JSON.stringify(out, null, 1));
const file = join(dirname(fileURLToPath(import.meta.url)), 'results', 'resize-effect.json');
mkdirSync(dirname(file), { recursive: true });
await writeFileAtomic(file, JSON.stringify(out, null, 1) + '\n');
net.dispose();
