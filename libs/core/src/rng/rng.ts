import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/**
 * FNV-1a over the UTF-16 code units, then a murmur3 finaliser: turns (seed, stream name) into a
 * 32-bit seed so that streams derived by name are independent of the order they are created in.
 */
export function deriveSeed(seed: number, stream: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < stream.length; i++) {
    h ^= stream.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Serializable generator state, stored in checkpoints so resumed runs draw the same numbers. */
export interface RngState {
  readonly seed: number;
  readonly path: string;
  readonly state: readonly number[];
}

/**
 * The one random-number API of oodkit. A run has one `seed`; every consumer derives its own named
 * stream (`rng.derive('data.shuffle')`), so adding a consumer never shifts another's draws.
 * Backed by pure-rand's xoroshiro128+.
 */
export class Rng {
  private constructor(
    readonly seed: number,
    readonly path: string,
    private readonly generator: JumpableRandomGenerator,
  ) {}

  static fromSeed(seed: number): Rng {
    if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
    return new Rng(seed >>> 0, '', xoroshiro128plus(seed | 0));
  }

  static fromState(state: RngState): Rng {
    return new Rng(state.seed, state.path, xoroshiro128plusFromState(state.state));
  }

  /** An independent stream named `name` under this one (depends only on seed and path). */
  derive(name: string): Rng {
    const path = this.path === '' ? name : `${this.path}/${name}`;
    return new Rng(this.seed, path, xoroshiro128plus(deriveSeed(this.seed, path) | 0));
  }

  /** A derived 32-bit seed for libraries that take a number (e.g. tf.randomNormal's seed). */
  nextSeed(): number {
    return uniformInt(this.generator, 0, 0x7fffffff);
  }

  getState(): RngState {
    return { seed: this.seed, path: this.path, state: [...this.generator.getState()] };
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.generator);
  }

  /** Uniform integer in [from, to] (both included). */
  int(from: number, to: number): number {
    return uniformInt(this.generator, from, to);
  }

  /** Standard normal by Box–Muller (one draw per call; the pair's second value is discarded for simplicity of state). */
  normal(mean = 0, std = 1): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates in place. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array | Float32Array | Float64Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp as never;
    }
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    this.shuffle(out);
    return out;
  }
}
