import { tf } from '@oodkit/compute';
import type { Rng } from '@oodkit/core';

/**
 * Owns a network's variables under stable, PyTorch-state_dict-like names. tfjs variable names are
 * global to the engine, so two networks could not share a name; the stable name lives here and the
 * engine gets an auto-generated one.
 */
export class ParameterStore {
  private readonly all = new Map<string, tf.Variable>();
  private readonly trainable: tf.Variable[] = [];

  constructor(private readonly rng: Rng) {}

  /** A seed for one parameter: derived by name, so adding a layer never changes another's init. */
  seedFor(name: string): number {
    return this.rng.derive(name).nextSeed();
  }

  add(name: string, initial: tf.Tensor, trainable: boolean): tf.Variable {
    if (this.all.has(name)) throw new Error(`duplicate parameter name '${name}'`);
    const variable = tf.variable(initial, trainable);
    initial.dispose();
    this.all.set(name, variable);
    if (trainable) this.trainable.push(variable);
    return variable;
  }

  get named(): ReadonlyMap<string, tf.Variable> {
    return this.all;
  }

  get trainables(): tf.Variable[] {
    return [...this.trainable];
  }

  dispose(): void {
    for (const variable of this.all.values()) variable.dispose();
    this.all.clear();
    this.trainable.length = 0;
  }
}
