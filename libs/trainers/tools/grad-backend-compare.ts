/**
 * Gradients of the CE loss of resnet18_224x224 (train mode, dropout 0) w.r.t. every parameter, on
 * wasm (twice) and cpu; prints the worst max-abs-relative differences. A repro for backend gradient
 * discrepancies (cpu agrees with PyTorch, see torch-crosscheck.ts).
 *   npx tsx libs/trainers/tools/grad-backend-compare.ts 64 [resnet18_224x224|resnet18_32x32]
 */
import { initCompute, tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, type Classifier } from '@oodkit/core';
import { networksModule } from '@oodkit/networks';
import { crossEntropy } from '../src/index.js';
const registry = registryOf(createOodkitContainer([networksModule]));
const size = Number(process.argv[2] ?? 64);
const netName = process.argv[3] ?? 'resnet18_224x224';
async function grads(backend: 'cpu' | 'wasm') {
  await initCompute({ backend });
  const net = await registry.build<Classifier>(
    'network',
    {
      name: netName,
      args: netName === 'resnet18_224x224' ? { image_size: size, dropout: 0, num_classes: 10 } : { image_size: size, num_classes: 10 },
    },
    { logger: silentLogger, rng: Rng.fromSeed(11).derive(netName), config: {} },
  );
  const x = tf.randomNormal([4, size, size, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const y = tf.tensor1d([1, 4, 7, 0], 'int32');
  const { value, grads } = tf.variableGrads(() => crossEntropy(net.forward(x, true), y), net.trainableVariables());
  const out = new Map<string, Float32Array>();
  for (const [name, v] of net.namedVariables()) if (grads[v.name]) out.set(name, (grads[v.name].dataSync() as Float32Array).slice());
  console.log(backend, 'loss', value.dataSync()[0]);
  net.dispose();
  return out;
}
const cmp = (a: Map<string, Float32Array>, b: Map<string, Float32Array>, label: string) => {
  const rows = [...a]
    .map(([n, ga]) => {
      const gb = b.get(n)!;
      let d = 0,
        m = 0;
      for (let i = 0; i < ga.length; i++) {
        d = Math.max(d, Math.abs(ga[i] - gb[i]));
        m = Math.max(m, Math.abs(ga[i]));
      }
      return [n, d / m] as const;
    })
    .sort((p, q) => q[1] - p[1]);
  console.log(
    label,
    rows
      .slice(0, 4)
      .map(([n, r]) => `${n} ${r.toExponential(2)}`)
      .join(' | '),
  );
};
const w1 = await grads('wasm');
const w2 = await grads('wasm');
const c = await grads('cpu');
cmp(w1, w2, 'wasm vs wasm');
cmp(c, w1, 'cpu vs wasm');
