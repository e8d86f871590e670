import { UsageError, type ImageDataset } from '@oodkit/core';

/** An in-memory uint8 HWC image set (synthetic pools, generated samples). */
export class ArrayDataset implements ImageDataset {
  readonly length: number;
  private readonly imageSize: number;

  constructor(
    readonly name: string,
    readonly imageShape: readonly [number, number, number],
    readonly numClasses: number,
    readonly pixels: Uint8Array,
    readonly labels: Int32Array,
  ) {
    this.imageSize = imageShape[0] * imageShape[1] * imageShape[2];
    this.length = labels.length;
    if (pixels.length !== this.length * this.imageSize) {
      throw new UsageError(`${name}: ${pixels.length} pixel values do not make ${this.length} images of ${imageShape.join('×')}`);
    }
  }

  async readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
    const out = new Uint8Array(indices.length * this.imageSize);
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i]!;
      if (!(index >= 0 && index < this.length)) throw new UsageError(`${this.name}: index ${index} outside [0, ${this.length})`);
      out.set(this.pixels.subarray(index * this.imageSize, (index + 1) * this.imageSize), i * this.imageSize);
    }
    return out;
  }
}

/**
 * Real ⊕ synthetic as one dataset: indices 0..R-1 are the real set, R..R+S-1 the synthetic one —
 * the index layout the TwoSourceSampler draws from.
 */
export class ConcatDataset implements ImageDataset {
  readonly name: string;
  readonly length: number;
  readonly labels: Int32Array;
  readonly imageShape: readonly [number, number, number];
  readonly numClasses: number;

  constructor(
    readonly first: ImageDataset,
    readonly second: ImageDataset,
  ) {
    if (first.imageShape.some((d, i) => d !== second.imageShape[i])) {
      throw new UsageError(
        `cannot concatenate ${first.name} (${first.imageShape.join('×')}) and ${second.name} (${second.imageShape.join('×')})`,
      );
    }
    this.name = `${first.name}+${second.name}`;
    this.length = first.length + second.length;
    this.imageShape = first.imageShape;
    this.numClasses = first.numClasses;
    this.labels = new Int32Array(this.length);
    this.labels.set(first.labels, 0);
    this.labels.set(second.labels, first.length);
  }

  async readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
    const size = this.imageShape[0] * this.imageShape[1] * this.imageShape[2];
    const firstIdx: number[] = [];
    const secondIdx: number[] = [];
    const slot = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i]!;
      if (index < this.first.length) {
        slot[i] = firstIdx.length;
        firstIdx.push(index);
      } else {
        slot[i] = -1 - secondIdx.length;
        secondIdx.push(index - this.first.length);
      }
    }
    const [a, b] = await Promise.all([
      firstIdx.length ? this.first.readImages(firstIdx) : new Uint8Array(0),
      secondIdx.length ? this.second.readImages(secondIdx) : new Uint8Array(0),
    ]);
    const out = new Uint8Array(indices.length * size);
    for (let i = 0; i < indices.length; i++) {
      const s = slot[i]!;
      const src = s >= 0 ? a.subarray(s * size, (s + 1) * size) : b.subarray((-1 - s) * size, -s * size);
      out.set(src, i * size);
    }
    return out;
  }
}
