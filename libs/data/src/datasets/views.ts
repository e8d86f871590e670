import { DataError, type ImageDataset } from '@oodkit/core';
import { checkIndices } from './base.js';

/** The same images with every label -1: a labelled set used as OOD for another benchmark. */
export function relabelOod(dataset: ImageDataset, name = dataset.name): ImageDataset {
  const labels = new Int32Array(dataset.length).fill(-1);
  return {
    name,
    length: dataset.length,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    labels,
    readImages: (indices) => dataset.readImages(indices),
  };
}

/** `dataset` restricted to `indices` (in that order); index i of the view is indices[i] of the source. */
export class SubsetDataset implements ImageDataset {
  readonly labels: Int32Array;

  constructor(
    readonly name: string,
    readonly source: ImageDataset,
    readonly indices: Int32Array,
  ) {
    checkIndices(indices, source.length, source.name);
    this.labels = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) this.labels[i] = source.labels[indices[i]];
  }

  get length(): number {
    return this.indices.length;
  }
  get imageShape(): readonly [number, number, number] {
    return this.source.imageShape;
  }
  get numClasses(): number {
    return this.source.numClasses;
  }

  readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
    checkIndices(indices, this.length, this.name);
    const mapped = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) mapped[k] = this.indices[indices[k]];
    return this.source.readImages(mapped);
  }
}

/**
 * Datasets one after another: index i belongs to the first part whose cumulative length exceeds
 * i. Parts must share the image shape and class count (SIO: real then synthetic).
 */
export class ConcatDataset implements ImageDataset {
  readonly labels: Int32Array;
  readonly offsets: readonly number[];

  constructor(
    readonly name: string,
    readonly parts: readonly ImageDataset[],
  ) {
    if (parts.length === 0) throw new DataError(`concat '${name}': needs at least one dataset`);
    const [first] = parts;
    for (const part of parts) {
      if (part.imageShape.join('x') !== first.imageShape.join('x')) {
        throw new DataError(
          `concat '${name}': '${part.name}' has image shape [${part.imageShape.join(', ')}] but '${first.name}' has [${first.imageShape.join(', ')}]`,
        );
      }
      if (part.numClasses !== first.numClasses) {
        throw new DataError(`concat '${name}': '${part.name}' has ${part.numClasses} classes but '${first.name}' has ${first.numClasses}`);
      }
    }
    const offsets = [0];
    for (const part of parts) offsets.push(offsets[offsets.length - 1] + part.length);
    this.offsets = offsets;
    this.labels = new Int32Array(offsets[offsets.length - 1]);
    parts.forEach((part, p) => this.labels.set(part.labels, offsets[p]));
  }

  get length(): number {
    return this.labels.length;
  }
  get imageShape(): readonly [number, number, number] {
    return this.parts[0].imageShape;
  }
  get numClasses(): number {
    return this.parts[0].numClasses;
  }

  /** Reads each part's indices in one call, then scatters the images back into request order. */
  async readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
    checkIndices(indices, this.length, this.name);
    const bytes = this.imageShape[0] * this.imageShape[1] * this.imageShape[2];
    const out = new Uint8Array(indices.length * bytes);
    const perPart: { local: number[]; positions: number[] }[] = this.parts.map(() => ({ local: [], positions: [] }));
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      let p = 0;
      while (i >= this.offsets[p + 1]) p++;
      perPart[p].local.push(i - this.offsets[p]);
      perPart[p].positions.push(k);
    }
    await Promise.all(
      perPart.map(async ({ local, positions }, p) => {
        if (local.length === 0) return;
        const pixels = await this.parts[p].readImages(local);
        positions.forEach((k, j) => out.set(pixels.subarray(j * bytes, (j + 1) * bytes), k * bytes));
      }),
    );
    return out;
  }
}
