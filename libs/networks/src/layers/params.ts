import { tf } from '@oodkit/compute';
import type { Rng } from '@oodkit/core';

/**
 * How a variable's layout relates to PyTorch's for the same parameter: 'same', or 'conv2d' — oodkit
 * keeps conv weights as tfjs does, [kh, kw, in, out] (HWIO), PyTorch as [out, in, kh, kw] (OIHW).
 */
export type TorchLayout = 'same' | 'conv2d';

/** One entry of the PyTorch state_dict a network corresponds to. */
export interface TorchStateEntry {
  /** The PyTorch state_dict key, e.g. `layer1.0.bn1.running_var`. */
  readonly name: string;
  /** Shape in PyTorch's layout. */
  readonly torchShape: readonly number[];
  readonly layout: TorchLayout;
  /** The variable holding it; absent for buffers oodkit does not keep (BatchNorm's num_batches_tracked). */
  readonly variable?: tf.Variable;
  /** What a mismatch of this entry's size along `axis` says about the network's args (e.g. num_classes). */
  readonly arg?: { readonly name: string; readonly axis: number };
}

/** PyTorch shape of a variable of shape `shape` stored in `layout`. */
export function torchShapeOf(shape: readonly number[], layout: TorchLayout): number[] {
  if (layout === 'same') return [...shape];
  const [kh, kw, cin, cout] = shape;
  return [cout, cin, kh, kw];
}

/**
 * Owns a network's variables under stable, PyTorch-state_dict names. tfjs variable names are
 * global to the engine, so two networks could not share a name; the stable name lives here and the
 * engine gets an auto-generated one.
 */
export class ParameterStore {
  private readonly all = new Map<string, tf.Variable>();
  private readonly trainable: tf.Variable[] = [];
  private readonly torch: TorchStateEntry[] = [];

  /**
   * `initialize: false` gives every parameter zeros instead of its random draw: for networks whose
   * weights all come from a checkpoint (drawing ResNet-50's 25 M initial values takes tens of seconds).
   */
  constructor(
    private readonly rng: Rng,
    private readonly options: { readonly initialize?: boolean } = {},
  ) {}

  /** A seed for one parameter: derived by name, so adding a layer never changes another's init. */
  seedFor(name: string): number {
    return this.rng.derive(name).nextSeed();
  }

  /** The initial value of parameter `name`: `draw(its seed)`, or zeros when the store does not initialise. */
  initial(name: string, shape: number[], draw: (seed: number) => tf.Tensor): tf.Tensor {
    return this.options.initialize === false ? tf.zeros(shape) : draw(this.seedFor(name));
  }

  add(name: string, initial: tf.Tensor, trainable: boolean, layout: TorchLayout = 'same'): tf.Variable {
    if (this.all.has(name)) throw new Error(`duplicate parameter name '${name}'`);
    const variable = tf.variable(initial, trainable);
    initial.dispose();
    this.all.set(name, variable);
    if (trainable) this.trainable.push(variable);
    this.torch.push({ name, torchShape: torchShapeOf(variable.shape, layout), layout, variable });
    return variable;
  }

  /** A state_dict entry PyTorch has and oodkit does not keep (its value never affects oodkit's math). */
  declareUnstored(name: string, torchShape: readonly number[]): void {
    this.torch.push({ name, torchShape, layout: 'same' });
  }

  /** Marks what a size mismatch of `name` along `axis` means for the network's args. */
  annotate(name: string, arg: { name: string; axis: number }): void {
    const i = this.torch.findIndex((e) => e.name === name);
    if (i < 0) throw new Error(`no parameter '${name}' to annotate`);
    this.torch[i] = { ...this.torch[i], arg };
  }

  get named(): ReadonlyMap<string, tf.Variable> {
    return this.all;
  }

  get trainables(): tf.Variable[] {
    return [...this.trainable];
  }

  /** The network's PyTorch state_dict entries, in PyTorch's order. */
  get torchState(): readonly TorchStateEntry[] {
    return this.torch;
  }

  dispose(): void {
    for (const variable of this.all.values()) variable.dispose();
    this.all.clear();
    this.trainable.length = 0;
    this.torch.length = 0;
  }
}
