import { DataError, type ImageDataset } from '@oodkit/core';
import type { RowStore } from '../formats/rows.js';

/** Throws naming the first label outside [0, numClasses) (or -1 when OOD labels are allowed). */
export function checkLabels(labels: ArrayLike<number>, numClasses: number, where: string, allowOod = false): void {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (Number.isInteger(v) && v >= 0 && v < numClasses) continue;
    if (allowOod && v === -1) continue;
    throw new DataError(`${where}: label ${v} at index ${i} is outside [0, ${numClasses})${allowOod ? ' and is not -1 (OOD)' : ''}`);
  }
}

export function checkIndices(indices: ArrayLike<number>, length: number, name: string): void {
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= length)
      throw new DataError(`dataset '${name}': index ${i} (position ${k}) is out of range [0, ${length})`);
  }
}

export function imageBytes(shape: readonly [number, number, number]): number {
  return shape[0] * shape[1] * shape[2];
}

/** A dataset whose images are fixed-size uint8 HWC rows of a RowStore. */
export class RowDataset implements ImageDataset {
  constructor(
    readonly name: string,
    private readonly rows: RowStore,
    readonly imageShape: readonly [number, number, number],
    readonly numClasses: number,
    readonly labels: Int32Array,
  ) {
    if (rows.rowBytes !== imageBytes(imageShape))
      throw new DataError(`dataset '${name}': row size ${rows.rowBytes} does not match image shape [${imageShape.join(', ')}]`);
    if (rows.count !== labels.length) throw new DataError(`dataset '${name}': ${rows.count} images but ${labels.length} labels`);
  }

  get length(): number {
    return this.labels.length;
  }

  async readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
    checkIndices(indices, this.length, this.name);
    const out = new Uint8Array(indices.length * this.rows.rowBytes);
    await this.rows.readRows(indices, out);
    return out;
  }

  async close(): Promise<void> {
    await this.rows.close?.();
  }
}

/** A dataset fully in memory (generated or decoded data). */
export class MemoryDataset implements ImageDataset {
  constructor(
    readonly name: string,
    private readonly pixels: Uint8Array,
    readonly imageShape: readonly [number, number, number],
    readonly numClasses: number,
    readonly labels: Int32Array,
  ) {
    if (pixels.length !== labels.length * imageBytes(imageShape)) {
      throw new DataError(
        `dataset '${name}': ${pixels.length} pixel bytes for ${labels.length} images of shape [${imageShape.join(', ')}]`,
      );
    }
  }

  get length(): number {
    return this.labels.length;
  }

  readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
    checkIndices(indices, this.length, this.name);
    const bytes = imageBytes(this.imageShape);
    const out = new Uint8Array(indices.length * bytes);
    for (let k = 0; k < indices.length; k++) out.set(this.pixels.subarray(indices[k] * bytes, (indices[k] + 1) * bytes), k * bytes);
    return Promise.resolve(out);
  }
}
