/**
 * Per-layer timings of the wasm convolution routes (the figures behind the 'auto' route choices in
 * libs/compute): forward (oodkit direct SIMD vs Winograd F(2×2, 3×3) and F(4×4, 3×3) vs XNNPACK; the
 * Winograd routes fall back to the direct kernel where they do not fit), filter gradient (direct SIMD
 * vs Winograd F(2×2) and F(4×4) vs the XNNPACK conv and GEMM routes) and input gradient (the
 * stride-2 split's adjoint vs transposed conv vs GEMM + col2im), on ResNet-18 and LeNet layers.
 * `npm run bench:conv-layers -- [--threads N] [--batch 32] [--reps 5] [--out file]`; prints a table
 * and writes JSON. Each figure is the best of `--reps` runs after 2 untimed ones, routes alternated.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  initCompute,
  setConvBackpropRoutes,
  setConvForwardRoute,
  tf,
  type FilterRoute,
  type ForwardRoute,
  type InputRoute,
} from '@oodkit/compute';
import { createLogger, writeFileAtomicSync } from '@oodkit/core';

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'results/bench/conv-layers.json' },
    threads: { type: 'string' },
    batch: { type: 'string', default: '32' },
    reps: { type: 'string', default: '5' },
  },
});

interface Layer {
  name: string;
  batch: number;
  size: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

const positiveInt = (name: string, value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got '${value}'`);
  return n;
};
const B = positiveInt('batch', opts.batch);
const LAYERS: Layer[] = [
  { name: 'resnet stem', batch: B, size: 32, cin: 3, cout: 64, k: 3, stride: 1, pad: 1 },
  { name: 'resnet layer1', batch: B, size: 32, cin: 64, cout: 64, k: 3, stride: 1, pad: 1 },
  { name: 'resnet layer2 (stride 2)', batch: B, size: 32, cin: 64, cout: 128, k: 3, stride: 2, pad: 1 },
  { name: 'resnet layer2', batch: B, size: 16, cin: 128, cout: 128, k: 3, stride: 1, pad: 1 },
  { name: 'resnet layer3 (stride 2)', batch: B, size: 16, cin: 128, cout: 256, k: 3, stride: 2, pad: 1 },
  { name: 'resnet layer3', batch: B, size: 8, cin: 256, cout: 256, k: 3, stride: 1, pad: 1 },
  { name: 'resnet layer4 (stride 2)', batch: B, size: 8, cin: 256, cout: 512, k: 3, stride: 2, pad: 1 },
  { name: 'resnet layer4', batch: B, size: 4, cin: 512, cout: 512, k: 3, stride: 1, pad: 1 },
  { name: 'lenet conv1', batch: 128, size: 28, cin: 1, cout: 6, k: 5, stride: 1, pad: 2 },
  { name: 'lenet conv2', batch: 128, size: 14, cin: 6, cout: 16, k: 5, stride: 1, pad: 0 },
];

function best(reps: number, f: () => tf.Tensor): number {
  for (let i = 0; i < 2; i++) f().dispose();
  let min = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f().dispose();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

async function main() {
  const info = await initCompute({
    backend: 'wasm',
    logger: createLogger('warn', 'bench'),
    ...(opts.threads ? { threads: positiveInt('threads', opts.threads) } : {}),
  });
  const reps = positiveInt('reps', opts.reps);
  const rows = [];
  for (const l of LAYERS) {
    const out = Math.floor((l.size + 2 * l.pad - l.k) / l.stride) + 1;
    const x = tf.randomNormal([l.batch, l.size, l.size, l.cin]) as tf.Tensor4D;
    const w = tf.randomNormal([l.k, l.k, l.cin, l.cout]) as tf.Tensor4D;
    const dy = tf.randomNormal([l.batch, out, out, l.cout]) as tf.Tensor4D;
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [l.pad, l.pad],
      [l.pad, l.pad],
      [0, 0],
    ];
    const attrs = { strides: l.stride, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    const gflop = (2 * l.batch * out * out * l.k * l.k * l.cin * l.cout) / 1e9;
    const forward: Record<string, number> = {};
    const filter: Record<string, number> = {};
    const input: Record<string, number> = {};
    for (let round = 0; round < 2; round++) {
      for (const r of ['simd', 'winograd', 'winograd4', 'xnnpack'] as ForwardRoute[]) {
        setConvForwardRoute(r);
        forward[r] = Math.min(
          forward[r] ?? Infinity,
          best(reps, () => tf.conv2d(x, w, l.stride, pad)),
        );
      }
      setConvForwardRoute('auto');
      for (const r of ['simd', 'winograd', 'winograd4', 'conv', 'gemm'] as FilterRoute[]) {
        setConvBackpropRoutes({ filter: r });
        filter[r] = Math.min(
          filter[r] ?? Infinity,
          best(
            reps,
            () =>
              tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
                ...attrs,
                filterShape: w.shape,
              } as unknown as tf.NamedAttrMap) as tf.Tensor,
          ),
        );
      }
      for (const r of ['winograd', 'conv', 'gemm'] as InputRoute[]) {
        setConvBackpropRoutes({ input: r });
        input[r] = Math.min(
          input[r] ?? Infinity,
          best(
            reps,
            () =>
              tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, {
                ...attrs,
                inputShape: x.shape,
              } as unknown as tf.NamedAttrMap) as tf.Tensor,
          ),
        );
      }
      setConvBackpropRoutes({ filter: 'auto', input: 'auto' });
    }
    const row = { layer: l, gflop, forward_ms: forward, filter_grad_ms: filter, input_grad_ms: input };
    rows.push(row);
    const f = (o: Record<string, number>) =>
      Object.entries(o)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(' / ');
    console.log(`${l.name.padEnd(26)} fwd ${f(forward)} | dW ${f(filter)} | dX ${f(input)} ms (${gflop.toFixed(2)} GFLOP each)`);
    tf.dispose([x, w, dy]);
  }
  const report = {
    tool: 'tools/bench/conv-layers.ts',
    date: new Date().toISOString(),
    threads: info.threads,
    node: process.version,
    loadavg: os.loadavg(),
    reps,
    rows,
  };
  const file = path.resolve(opts.out);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

await main();
