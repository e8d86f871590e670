import { DataError, npyToInt32, readNpy, writeNpy, type ImageDataset } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import { MemoryDataset } from '@oodkit/data';

/** What the synthetic set must look like: the real training set's image shape and class count. */
export interface SyntheticTarget {
  readonly imageShape: readonly [number, number, number];
  readonly numClasses: number;
}

/**
 * Load the SIO release's pair: `images.npy` uint8 (N, H, W, C) HWC (or (N, H, W) for one channel),
 * `labels.npy` 1-D integers of length N in [0, numClasses). A size or channel mismatch with the real
 * data is an error unless `resize` is set, then images are converted (gray↔RGB) and resized bilinearly.
 */
export async function loadSyntheticPair(
  imagesPath: string,
  labelsPath: string,
  target: SyntheticTarget,
  options: { resize?: boolean; name?: string } = {},
): Promise<MemoryDataset> {
  const images = await readNpy(imagesPath);
  if (images.dtype !== 'uint8') {
    throw new DataError(`${imagesPath}: synthetic images must be uint8 (0..255, as the SIO release ships them), got ${images.dtype}`);
  }
  const shape = images.shape.length === 3 ? [...images.shape, 1] : [...images.shape];
  if (shape.length !== 4) {
    throw new DataError(`${imagesPath}: synthetic images must have shape (N, H, W, C) or (N, H, W), got (${images.shape.join(', ')})`);
  }
  const [n, h, w, c] = shape as [number, number, number, number];
  if (c !== 1 && c !== 3)
    throw new DataError(`${imagesPath}: expected 1 or 3 channels in the last axis (HWC), got ${c} (shape (${images.shape.join(', ')}))`);
  const labelsArray = await readNpy(labelsPath);
  if (labelsArray.shape.length !== 1)
    throw new DataError(`${labelsPath}: labels must be a 1-D array, got shape (${labelsArray.shape.join(', ')})`);
  if (labelsArray.dtype === 'float32' || labelsArray.dtype === 'float64' || labelsArray.dtype === 'bool') {
    throw new DataError(`${labelsPath}: labels must have an integer dtype, got ${labelsArray.dtype}`);
  }
  if (labelsArray.shape[0] !== n)
    throw new DataError(`${labelsPath}: ${labelsArray.shape[0]} labels for ${n} images in ${imagesPath}; lengths must match`);
  const labels = npyToInt32(labelsArray, labelsPath);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! < 0 || labels[i]! >= target.numClasses) {
      throw new DataError(`${labelsPath}: label ${labels[i]} at index ${i} is outside [0, ${target.numClasses})`);
    }
  }
  const [th, tw, tc] = target.imageShape;
  let pixels = images.data as Uint8Array;
  if (h !== th || w !== tw || c !== tc) {
    if (!options.resize) {
      throw new DataError(
        `${imagesPath}: synthetic images are ${h}×${w}×${c} but the real training images are ${th}×${tw}×${tc}; ` +
          'set sio.resize: true to convert them',
      );
    }
    pixels = conformImages(pixels, [n, h, w, c], target.imageShape);
  }
  return new MemoryDataset(options.name ?? 'synthetic', pixels, target.imageShape, target.numClasses, labels);
}

/** Channel conversion (gray → RGB by repetition, RGB → gray by ITU-R 601 luma) and bilinear resize. */
export function conformImages(
  pixels: Uint8Array,
  from: readonly [number, number, number, number],
  to: readonly [number, number, number],
): Uint8Array {
  const [n, , , c] = from;
  const [th, tw, tc] = to;
  const out = new Uint8Array(n * th * tw * tc);
  const chunk = 256;
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const size = from[1] * from[2] * c;
    const part = tf.tidy(() => {
      let x = tf.tensor4d(pixels.subarray(start * size, (start + count) * size), [count, from[1], from[2], c], 'int32').toFloat();
      if (c === 1 && tc === 3) x = tf.tile(x, [1, 1, 1, 3]);
      else if (c === 3 && tc === 1) x = tf.sum(tf.mul(x, tf.tensor1d([0.299, 0.587, 0.114])), -1, true);
      if (from[1] !== th || from[2] !== tw) x = tf.image.resizeBilinear(x as tf.Tensor4D, [th, tw]);
      return x.round().clipByValue(0, 255).toInt();
    });
    out.set(part.dataSync(), start * th * tw * tc);
    part.dispose();
  }
  return out;
}

/** Write a synthetic set in the SIO format: images uint8 (N, H, W, C), labels int64 (N,). */
export async function writeSyntheticPair(imagesPath: string, labelsPath: string, dataset: ImageDataset): Promise<void> {
  const all = new Int32Array(dataset.length);
  for (let i = 0; i < all.length; i++) all[i] = i;
  const pixels = await dataset.readImages(all);
  await writeNpy(imagesPath, { data: pixels, shape: [dataset.length, ...dataset.imageShape] });
  const labels = new BigInt64Array(dataset.length);
  for (let i = 0; i < labels.length; i++) labels[i] = BigInt(dataset.labels[i]!);
  await writeNpy(labelsPath, { data: labels });
}
