import sharp from 'sharp';
import type { ImageDataset } from '@oodkit/core';

/**
 * A PNG contact sheet of `indices` (row-major, `cols` per row, a 2 px dark gap, nearest-neighbour
 * upscaling by `scale`). Grayscale sets stay grayscale.
 */
export async function previewGrid(
  dataset: ImageDataset,
  indices: readonly number[],
  options: { cols?: number; scale?: number; gap?: number } = {},
): Promise<Buffer> {
  const [h, w, c] = dataset.imageShape;
  const cols = Math.max(1, Math.min(options.cols ?? 8, indices.length));
  const rows = Math.ceil(indices.length / cols);
  const scale = Math.max(1, Math.round(options.scale ?? 1));
  const gap = options.gap ?? 2;
  const cw = w * scale + gap;
  const ch = h * scale + gap;
  const width = cols * cw + gap;
  const height = rows * ch + gap;
  const canvas = new Uint8Array(width * height * c).fill(32);
  const pixels = await dataset.readImages(indices);
  const bytes = h * w * c;
  indices.forEach((_, k) => {
    const ox = gap + (k % cols) * cw;
    const oy = gap + Math.floor(k / cols) * ch;
    for (let y = 0; y < h * scale; y++) {
      for (let x = 0; x < w * scale; x++) {
        const src = k * bytes + (Math.floor(y / scale) * w + Math.floor(x / scale)) * c;
        const dst = ((oy + y) * width + ox + x) * c;
        for (let ch2 = 0; ch2 < c; ch2++) canvas[dst + ch2] = pixels[src + ch2];
      }
    }
  });
  const image = sharp(canvas, { raw: { width, height, channels: c as 1 | 3 } });
  return (c === 1 ? image.toColourspace('b-w') : image).png().toBuffer();
}
