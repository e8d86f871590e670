import { z } from 'zod';
import { DataError, defineComponent } from '@oodkit/core';
import { openIdx } from '../formats/idx.js';
import { dataDirOf, resolveDataPath } from '../util/fs.js';
import { checkLabels, RowDataset } from './base.js';

export const idxArgs = z.strictObject({
  /** Images: idx3 [N, H, W] or idx4 [N, H, W, C] uint8, raw or gzip. `package:<npm>/<path>` allowed. */
  images: z.string().min(1),
  /** Labels: idx1 [N] uint8. */
  labels: z.string().min(1),
  num_classes: z.int().positive().default(10),
  /** Display name (defaults to the images file name). */
  name: z.string().optional(),
  /** Raw files above this size are read per batch from disk instead of loaded whole. */
  lazy_above_mb: z.number().positive().default(512),
});

export interface IdxOptions {
  images: string;
  labels: string;
  numClasses: number;
  name?: string;
  lazyAboveBytes?: number;
}

/** MNIST-family idx pair as an ImageDataset. */
export async function openIdxDataset(options: IdxOptions): Promise<RowDataset> {
  const images = await openIdx(options.images, { lazyAboveBytes: options.lazyAboveBytes });
  const labels = await openIdx(options.labels);
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new DataError(`${options.images}: expected idx images of shape [N, H, W] or [N, H, W, C], got [${images.dims.join(', ')}]`);
  }
  if (labels.dims.length !== 1) throw new DataError(`${options.labels}: expected idx labels of shape [N], got [${labels.dims.join(', ')}]`);
  if (labels.dims[0] !== images.dims[0]) {
    throw new DataError(`${options.labels}: ${labels.dims[0]} labels but ${options.images} has ${images.dims[0]} images`);
  }
  const raw = new Uint8Array(labels.dims[0]);
  await labels.rows.readRows(
    Array.from({ length: labels.dims[0] }, (_, i) => i),
    raw,
  );
  const labelArray = Int32Array.from(raw);
  checkLabels(labelArray, options.numClasses, options.labels);
  const [, h, w, c = 1] = images.dims;
  return new RowDataset(options.name ?? options.images.split(/[\\/]/).pop()!, images.rows, [h, w, c], options.numClasses, labelArray);
}

export const idxDataset = defineComponent({
  kind: 'dataset',
  name: 'idx',
  description: 'MNIST-family idx files (raw or gzip): images [N,H,W(,C)] uint8 + labels [N]',
  args: idxArgs,
  create: (args, ctx) => {
    const base = dataDirOf(ctx.config);
    return openIdxDataset({
      images: resolveDataPath(args.images, base),
      labels: resolveDataPath(args.labels, base),
      numClasses: args.num_classes,
      name: args.name,
      lazyAboveBytes: args.lazy_above_mb * 1024 * 1024,
    });
  },
});
