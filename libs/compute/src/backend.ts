import { tf } from './tf.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/**
 * Placeholder until the compute issue lands: selects a backend by name. The compute library
 * replaces this with full resolution (native → wasm with training kernels → cpu).
 */
export async function initCompute(options: { backend?: BackendName | 'auto' } = {}): Promise<{ backend: string; reason: string }> {
  const wanted = options.backend && options.backend !== 'auto' ? options.backend : 'cpu';
  await tf.setBackend(wanted);
  await tf.ready();
  return { backend: tf.getBackend(), reason: 'requested' };
}
