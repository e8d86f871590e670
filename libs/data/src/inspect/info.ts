import type { ImageDataset } from '@oodkit/core';

export interface DatasetInfo {
  readonly name: string;
  readonly count: number;
  /** [H, W, C] */
  readonly shape: readonly [number, number, number];
  readonly dtype: 'uint8';
  readonly numClasses: number;
  /** label → count; -1 (OOD) included when present. Ascending labels. */
  readonly classHistogram: Record<string, number>;
  /** Over the images scanned (all unless a sample limit was given). */
  readonly pixels: { readonly min: number; readonly max: number; readonly mean: number; readonly std: number; readonly scanned: number };
}

/**
 * Counts, label histogram and pixel statistics. Reading every image is also the validation: a
 * corrupt file or undecodable image fails here with its own error.
 */
export async function datasetInfo(
  dataset: ImageDataset,
  options: { sample?: number; chunk?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<DatasetInfo> {
  const hist = new Map<number, number>();
  for (const y of dataset.labels) hist.set(y, (hist.get(y) ?? 0) + 1);
  const classHistogram: Record<string, number> = {};
  for (const key of [...hist.keys()].sort((a, b) => a - b)) classHistogram[String(key)] = hist.get(key)!;
  const total = Math.min(dataset.length, options.sample ?? dataset.length);
  // an evenly spread sample when limited, so the statistics are not those of the first class only
  const step = dataset.length / total;
  const chunk = options.chunk ?? 1024;
  let min = 255;
  let max = 0;
  let sum = 0;
  let sumSq = 0;
  let values = 0;
  for (let start = 0; start < total; start += chunk) {
    const indices = Array.from({ length: Math.min(chunk, total - start) }, (_, k) => Math.floor((start + k) * step));
    const px = await dataset.readImages(indices);
    for (let i = 0; i < px.length; i++) {
      const v = px[i];
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      sumSq += v * v;
    }
    values += px.length;
    options.onProgress?.(start + indices.length, total);
  }
  const mean = values > 0 ? sum / values : 0;
  return {
    name: dataset.name,
    count: dataset.length,
    shape: [dataset.imageShape[0], dataset.imageShape[1], dataset.imageShape[2]],
    dtype: 'uint8',
    numClasses: dataset.numClasses,
    classHistogram,
    pixels: {
      min: values ? min : 0,
      max: values ? max : 0,
      mean,
      std: Math.sqrt(Math.max(0, sumSq / Math.max(1, values) - mean * mean)),
      scanned: total,
    },
  };
}

export function formatInfo(info: DatasetInfo): string {
  const hist = Object.entries(info.classHistogram)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([k, v]) => `${k === '-1' ? 'ood' : k}:${v}`)
    .join(' ');
  const p = info.pixels;
  return [
    `${info.name}`,
    `  count      ${info.count}`,
    `  shape      ${info.shape.join('×')} (H×W×C), ${info.dtype}`,
    `  classes    ${info.numClasses}`,
    `  histogram  ${hist}`,
    `  pixels     min ${p.min}, max ${p.max}, mean ${p.mean.toFixed(2)}, std ${p.std.toFixed(2)} (${p.scanned === info.count ? 'all' : p.scanned} images scanned)`,
  ].join('\n');
}
