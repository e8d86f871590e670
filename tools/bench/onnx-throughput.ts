/**
 * Feature-extraction images/s of OpenOOD's resnet18_32x32 on onnxruntime-node vs oodkit's wasm backend
 * vs PyTorch at the same thread count:
 *
 *   npx tsx tools/bench/onnx-throughput.ts [--out results/bench/onnx-throughput.json] [--threads 1,2]
 *       [--images 128] [--batch 64] [--rounds 3]
 *
 * One ONNX file (tools/bench/onnx_reference.py export: random init, torch.onnx.export) feeds
 * onnxruntime; oodkit's wasm runs its own resnet18_32x32 (same architecture, random init: speed does
 * not depend on the values). A figure = images / wall time of whole batches after one warm-up batch,
 * each engine × thread count in its own process (wasm threads are fixed at start-up), one after the
 * other, in `--rounds` rounds with the engine order rotated each round; the median of the rounds is
 * the figure (a shared machine's load changes within seconds: interleaving gives every engine the same
 * mix of quiet and busy moments). Work = logits + penultimate features copied to the host. The load
 * average is recorded: compare figures of one run only.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger, type Classifier } from '@oodkit/core';
import { OnnxModel, resnet18_32x32, resnet18_32x32Args } from '@oodkit/networks';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'results/bench/onnx-throughput.json' },
    threads: { type: 'string', default: '1,2' },
    images: { type: 'string', default: '128' },
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    worker: { type: 'string' },
    model: { type: 'string' },
  },
});
const images = Number(opts.images);
const batch = Number(opts.batch);

interface Figure {
  engine: 'onnxruntime' | 'oodkit-wasm' | 'pytorch';
  threads: number;
  batch: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
}

async function timeBatches(step: (x: tf.Tensor4D) => Promise<void>): Promise<{ images: number; seconds: number }> {
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  try {
    await step(x); // warm-up: session / kernel set-up
    let done = 0;
    const t0 = performance.now();
    while (done < images) {
      await step(x);
      done += batch;
    }
    return { images: done, seconds: (performance.now() - t0) / 1000 };
  } finally {
    x.dispose();
  }
}

async function worker(engine: string, threads: number, model: string): Promise<Figure> {
  if (engine === 'onnxruntime') {
    await initCompute({ backend: 'cpu' });
    const onnx = await OnnxModel.load(model, { threads });
    try {
      const t = await timeBatches(async (x) => void (await onnx.infer(x)));
      return { engine, threads, batch, ...t, imagesPerSecond: t.images / t.seconds };
    } finally {
      await onnx.dispose();
    }
  }
  await initCompute({ backend: 'wasm', threads });
  const net = (await resnet18_32x32.create(resnet18_32x32Args.parse({}), {
    logger: silentLogger,
    rng: Rng.fromSeed(0).derive('network'),
    config: {},
  } as never)) as Classifier;
  try {
    const t = await timeBatches(async (x) => {
      const out = tf.tidy(() => net.forwardFeatures(x, false));
      await Promise.all([out.logits.data(), out.features.data()]);
      tf.dispose([out.logits, out.features]);
    });
    return { engine: 'oodkit-wasm', threads, batch, ...t, imagesPerSecond: t.images / t.seconds };
  } finally {
    net.dispose();
  }
}

async function main(): Promise<void> {
  if (opts.worker) {
    const [engine, threads] = opts.worker.split(':');
    process.stdout.write(JSON.stringify(await worker(engine!, Number(threads), opts.model!)) + '\n');
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oodkit-onnx-bench-'));
  try {
    const model = path.join(dir, 'resnet18_32x32.onnx');
    const reference = path.join(here, 'onnx_reference.py');
    execFileSync('/usr/bin/python3', [reference, 'export', model], { stdio: 'inherit' });
    const figures: Figure[] = [];
    const loadBefore = os.loadavg();
    const engines = ['onnxruntime', 'oodkit-wasm', 'pytorch'] as const;
    const measure = (engine: (typeof engines)[number], threads: number): Figure => {
      if (engine === 'pytorch') {
        const py = execFileSync(
          '/usr/bin/python3',
          [reference, 'measure', '--threads', String(threads), '--images', String(images), '--batch', String(batch)],
          { encoding: 'utf8' },
        );
        const p = JSON.parse(py.trim()) as Figure & { version: string };
        return { engine: 'pytorch', threads, batch, images: p.images, seconds: p.seconds, imagesPerSecond: p.imagesPerSecond };
      }
      const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', `${engine}:${threads}`, '--model', model];
      const line = execFileSync(process.execPath, [...args, '--images', String(images), '--batch', String(batch)], {
        encoding: 'utf8',
        env: { ...process.env, OODKIT_WASM_THREADS: String(threads) },
      });
      return JSON.parse(line.trim().split('\n').at(-1)!) as Figure;
    };
    const rounds = Number(opts.rounds);
    const all: (Figure & { round: number })[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const threads of opts.threads.split(',').map(Number)) {
        for (let k = 0; k < engines.length; k++) {
          const figure = { ...measure(engines[(k + round) % engines.length]!, threads), round };
          all.push(figure);
          console.log(JSON.stringify(figure));
        }
      }
    }
    for (const threads of opts.threads.split(',').map(Number)) {
      for (const engine of engines) {
        const own = all.filter((f) => f.engine === engine && f.threads === threads).sort((a, b) => a.imagesPerSecond - b.imagesPerSecond);
        const median = own[Math.floor((own.length - 1) / 2)]!;
        const { round: _round, ...figure } = median;
        figures.push(figure);
        console.log(`median of ${own.length}: ${engine} ${threads} thread(s): ${figure.imagesPerSecond.toFixed(1)} img/s`);
      }
    }
    const result = {
      workload: 'resnet18_32x32 feature extraction (logits + penultimate features to host), 32×32×3 inputs',
      date: new Date().toISOString(),
      cpus: os.cpus().length,
      loadavgBefore: loadBefore,
      loadavgAfter: os.loadavg(),
      rounds,
      figures,
      every: all,
    };
    mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
    const tmp = `${opts.out}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(result, null, 2) + '\n');
    renameSync(tmp, opts.out);
    console.log(`wrote ${opts.out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
