import { readFile } from 'node:fs/promises';
import { DataError } from '@oodkit/core';

export type CifarVariant = 'cifar10' | 'cifar100';

/** CIFAR binary record: label byte(s) then 3072 bytes as three 32×32 planes (R, G, B). */
export function cifarRecordBytes(variant: CifarVariant): number {
  return (variant === 'cifar10' ? 1 : 2) + 3072;
}

export interface CifarBatch {
  /** uint8 HWC, 32×32×3 per image. */
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
}

/**
 * Reads CIFAR-10/100 binary batches and converts planes to HWC once (3 KB per image, stays bytes).
 * CIFAR-100 records carry (coarse, fine); `label` picks which.
 */
export async function readCifarBinary(
  files: readonly string[],
  variant: CifarVariant,
  label: 'fine' | 'coarse' = 'fine',
): Promise<CifarBatch> {
  const record = cifarRecordBytes(variant);
  const buffers: Buffer[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new DataError(`${file}: cannot read CIFAR batch (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
    }
    if (bytes.length === 0) throw new DataError(`${file}: empty CIFAR batch`);
    if (bytes.length % record !== 0) {
      const whole = Math.floor(bytes.length / record);
      throw new DataError(
        `${file}: truncated or corrupt ${variant} batch: ${bytes.length} bytes is not a multiple of the ${record}-byte record; record ${whole} starts at byte ${whole * record} and is incomplete`,
      );
    }
    buffers.push(bytes);
  }
  const total = buffers.reduce((n, b) => n + b.length / record, 0);
  const pixels = new Uint8Array(total * 3072);
  const labels = new Int32Array(total);
  const labelOffset = variant === 'cifar10' ? 0 : label === 'coarse' ? 0 : 1;
  const labelBytes = record - 3072;
  const numClasses = variant === 'cifar10' ? 10 : label === 'coarse' ? 20 : 100;
  let n = 0;
  buffers.forEach((bytes, f) => {
    for (let r = 0; r < bytes.length / record; r++, n++) {
      const base = r * record;
      const y = bytes[base + labelOffset];
      if (y >= numClasses)
        throw new DataError(
          `${files[f]}: record ${r} (byte ${base + labelOffset}) has label ${y}, outside [0, ${numClasses}) for ${variant}`,
        );
      labels[n] = y;
      const src = base + labelBytes;
      const dst = n * 3072;
      for (let p = 0; p < 1024; p++) {
        pixels[dst + 3 * p] = bytes[src + p];
        pixels[dst + 3 * p + 1] = bytes[src + 1024 + p];
        pixels[dst + 3 * p + 2] = bytes[src + 2048 + p];
      }
    }
  });
  return { pixels, labels };
}
