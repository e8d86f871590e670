import { tf } from '@oodkit/compute';
import { UsageError } from '@oodkit/core';

export interface SgdOptions {
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly dampening: number;
}

/** Learning rate and weight decay of a group of parameters that differ from the optimiser's defaults. */
export interface ParameterGroup {
  readonly lr: number;
  readonly weightDecay: number;
}

/**
 * One PyTorch SGD update of a parameter (torch.optim.SGD, maximize=False):
 *   d = g + wd·p;  buf = d on the first step, else μ·buf + (1−dampening)·d;
 *   d = d + μ·buf (Nesterov) or d = buf;  p ← p − lr·d.
 * Returns the new parameter and momentum buffer (caller owns both).
 */
export function sgdUpdate(
  param: tf.Tensor,
  grad: tf.Tensor,
  buffer: tf.Tensor | undefined,
  lr: number,
  opts: SgdOptions,
): { param: tf.Tensor; buffer: tf.Tensor | undefined } {
  return tf.tidy(() => {
    let d = opts.weightDecay !== 0 ? tf.add(grad, tf.mul(param, opts.weightDecay)) : grad;
    let buf: tf.Tensor | undefined;
    if (opts.momentum !== 0) {
      buf = buffer === undefined ? tf.clone(d) : tf.add(tf.mul(buffer, opts.momentum), tf.mul(d, 1 - opts.dampening));
      d = opts.nesterov ? tf.add(d, tf.mul(buf, opts.momentum)) : buf;
    }
    return { param: tf.sub(param, tf.mul(d, lr)), buffer: buf };
  });
}

/**
 * SGD with PyTorch's exact update and momentum buffers keyed by stable parameter names (so optimiser
 * state survives checkpoint/resume regardless of tfjs's engine-generated variable names).
 */
export class Sgd {
  private readonly buffers = new Map<string, tf.Variable>();

  constructor(readonly options: SgdOptions) {
    if (options.nesterov && (options.momentum <= 0 || options.dampening !== 0)) {
      throw new UsageError('Nesterov momentum requires a momentum > 0 and zero dampening (as PyTorch)');
    }
  }

  /**
   * Apply one update to every named parameter that has a gradient. `groupOf` gives a parameter its
   * own learning rate and weight decay (PyTorch's parameter groups / a second optimiser, as G-ODIN's h).
   */
  apply(
    params: ReadonlyMap<string, tf.Variable>,
    grads: ReadonlyMap<string, tf.Tensor>,
    lr: number,
    groupOf?: (name: string) => ParameterGroup | undefined,
  ): void {
    for (const [name, variable] of params) {
      const grad = grads.get(name);
      if (!grad) continue; // PyTorch skips parameters whose grad is None
      const previous = this.buffers.get(name);
      const group = groupOf?.(name);
      const options = group ? { ...this.options, weightDecay: group.weightDecay } : this.options;
      const next = sgdUpdate(variable, grad, previous, group ? group.lr : lr, options);
      variable.assign(next.param);
      next.param.dispose();
      if (next.buffer) {
        if (previous) previous.assign(next.buffer);
        else this.buffers.set(name, tf.variable(next.buffer, false));
        next.buffer.dispose();
      }
    }
  }

  /** Momentum buffers as host arrays (parameters that have not been stepped yet have none, as in PyTorch). */
  getSlots(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [name, buffer] of this.buffers) out[name] = (buffer.dataSync() as Float32Array).slice();
    return out;
  }

  setSlots(slots: Record<string, Float32Array>, params: ReadonlyMap<string, tf.Variable>): void {
    for (const [name, values] of Object.entries(slots)) {
      const param = params.get(name);
      if (!param) throw new UsageError(`optimizer state has a momentum buffer for '${name}', which is not a parameter of this model`);
      if (values.length !== param.size) {
        throw new UsageError(`optimizer state: momentum buffer '${name}' has ${values.length} values, parameter has ${param.size}`);
      }
    }
    this.dispose();
    for (const [name, values] of Object.entries(slots)) {
      this.buffers.set(name, tf.variable(tf.tensor(values, params.get(name)!.shape), false));
    }
  }

  dispose(): void {
    for (const buffer of this.buffers.values()) buffer.dispose();
    this.buffers.clear();
  }
}
