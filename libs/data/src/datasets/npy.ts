import { z } from 'zod';
import { DataError, defineComponent, npyToInt32, openNpy, readNpy } from '@oodkit/core';
import { NpyRows } from '../formats/npy-rows.js';
import { dataDirOf, resolveDataPath } from '../util/fs.js';
import { checkLabels, RowDataset } from './base.js';

export const npyArgs = z.strictObject({
  /** uint8 images (N, H, W, C) HWC or (N, H, W); C order (the SIO synthetic format). */
  images: z.string().min(1),
  /** 1-D integer labels of length N (any little- or big-endian integer dtype NumPy writes). */
  labels: z.string().min(1),
  num_classes: z.int().positive().default(10),
  name: z.string().optional(),
});

export interface NpyPairOptions {
  images: string;
  labels: string;
  numClasses: number;
  name?: string;
}

/** An (images.npy, labels.npy) pair; images stay on disk and are read per batch. */
export async function openNpyPair(options: NpyPairOptions): Promise<RowDataset> {
  const labelsArray = await readNpy(options.labels);
  if (labelsArray.shape.length !== 1)
    throw new DataError(`${options.labels}: labels must be a 1-D array, got shape (${labelsArray.shape.join(', ')})`);
  if (labelsArray.dtype === 'float32' || labelsArray.dtype === 'float64' || labelsArray.dtype === 'bool') {
    throw new DataError(`${options.labels}: labels must have an integer dtype, got ${labelsArray.dtype}`);
  }
  const labels = npyToInt32(labelsArray, options.labels);
  const file = await openNpy(options.images);
  try {
    if (file.dtype !== 'uint8')
      throw new DataError(
        `${options.images}: images must be uint8 (0..255), got ${file.dtype}; convert with (x * 255).round().astype(np.uint8) if they are floats in [0, 1]`,
      );
    const shape = file.shape;
    if (shape.length !== 3 && shape.length !== 4)
      throw new DataError(`${options.images}: images must have shape (N, H, W, C) or (N, H, W), got (${shape.join(', ')})`);
    const [n, h, w, c = 1] = shape;
    if (c !== 1 && c !== 3)
      throw new DataError(
        `${options.images}: expected 1 or 3 channels in the last axis (HWC), got ${c} (shape (${shape.join(', ')})); CHW arrays must be transposed to HWC`,
      );
    if (labels.length !== n)
      throw new DataError(`${options.labels}: ${labels.length} labels but ${options.images} has ${n} images; lengths must match`);
    checkLabels(labels, options.numClasses, options.labels);
    return new RowDataset(options.name ?? options.images.split(/[\\/]/).pop()!, new NpyRows(file), [h, w, c], options.numClasses, labels);
  } catch (error) {
    await file.close();
    throw error;
  }
}

export const npyDataset = defineComponent({
  kind: 'dataset',
  name: 'npy',
  description: 'NumPy pair: images.npy uint8 (N,H,W,C)/(N,H,W) + labels.npy 1-D integers (SIO synthetic format)',
  args: npyArgs,
  create: (args, ctx) => {
    const base = dataDirOf(ctx.config);
    return openNpyPair({
      images: resolveDataPath(args.images, base),
      labels: resolveDataPath(args.labels, base),
      numClasses: args.num_classes,
      name: args.name,
    });
  },
});
