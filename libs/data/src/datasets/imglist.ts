import sharp from 'sharp';
import { z } from 'zod';
import { ConfigError, DataError, defineComponent, type ImageDataset, type Logger } from '@oodkit/core';
import { parseImglist, type ImglistEntry } from '../formats/imglist.js';
import { roundHalfEven } from '../preprocessors/center-crop.js';
import { dataDirOf, resolveDataPath } from '../util/fs.js';
import { checkIndices } from './base.js';

export const imglistArgs = z.strictObject({
  /** Folder the list's paths are relative to (OpenOOD: data/images_classic). */
  root: z.string().min(1),
  /** The list file (OpenOOD: data/benchmark_imglist/<benchmark>/<split>.txt). */
  list: z.string().min(1),
  /** ID class count; defaults to the benchmark's num_classes. */
  num_classes: z.int().positive().optional(),
  /** Decode to this size: shorter side → pre_size, then centre crop (OpenOOD's Resize + CenterCrop). Omitted = native size, which must be the same for all images. */
  image_size: z.int().positive().optional(),
  pre_size: z.int().positive().optional(),
  channels: z.union([z.literal(1), z.literal(3)]).default(3),
  /** A listed image that does not exist: fail, or skip it and report the count. */
  missing: z.enum(['fail', 'skip']).default('fail'),
  /** `memory`: keep decoded images (H·W·C bytes each) so later epochs skip decoding — for CIFAR-size sets. */
  cache: z.enum(['none', 'memory']).default('none'),
  name: z.string().optional(),
});

export interface ImglistOptions {
  list: string;
  root: string;
  numClasses: number;
  imageSize?: number;
  preSize?: number;
  channels: 1 | 3;
  missing: 'fail' | 'skip';
  cache?: 'none' | 'memory';
  name?: string;
  logger?: Logger;
}

/** torchvision Resize(int): the shorter side becomes `size`, the longer one is scaled and truncated. */
export function shorterSideSize(w: number, h: number, size: number): [number, number] {
  return w <= h ? [size, Math.trunc((size * h) / w)] : [Math.trunc((size * w) / h), size];
}

/**
 * An OpenOOD image list decoded with sharp (libvips): each readImages call decodes its images
 * concurrently on libuv's thread pool, so the JS thread stays free while a loader prefetches.
 */
export class ImglistDataset implements ImageDataset {
  readonly labels: Int32Array;
  private decoded: Uint8Array | undefined;
  private isDecoded: Uint8Array | undefined;

  private constructor(
    readonly name: string,
    readonly entries: readonly ImglistEntry[],
    readonly skipped: readonly ImglistEntry[],
    readonly imageShape: readonly [number, number, number],
    readonly numClasses: number,
    private readonly options: ImglistOptions,
  ) {
    this.labels = Int32Array.from(entries, (e) => e.label);
    if (options.cache === 'memory') {
      this.decoded = new Uint8Array(entries.length * imageShape[0] * imageShape[1] * imageShape[2]);
      this.isDecoded = new Uint8Array(entries.length);
    }
  }

  static async open(options: ImglistOptions): Promise<ImglistDataset> {
    const { entries, skipped } = await parseImglist(options.list, options.root, { numClasses: options.numClasses, missing: options.missing });
    if (skipped.length > 0) {
      options.logger?.warn(`${options.list}: skipped ${skipped.length} missing image(s), e.g. line ${skipped[0].line} '${skipped[0].relPath}'`);
    }
    let shape: [number, number, number];
    if (options.imageSize !== undefined) shape = [options.imageSize, options.imageSize, options.channels];
    else {
      const first = entries[0];
      const meta = await sharp(first.path)
        .metadata()
        .catch((error: unknown) => {
          throw new DataError(`${options.list}:${first.line}: cannot decode '${first.relPath}' (${(error as Error).message})`, { cause: error });
        });
      shape = [meta.height ?? 0, meta.width ?? 0, options.channels];
    }
    const name = options.name ?? options.list.split(/[\\/]/).pop()!.replace(/\.txt$/, '');
    return new ImglistDataset(name, entries, skipped, shape, options.numClasses, options);
  }

  get length(): number {
    return this.entries.length;
  }

  async readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
    checkIndices(indices, this.length, this.name);
    const bytes = this.imageShape[0] * this.imageShape[1] * this.imageShape[2];
    const out = new Uint8Array(indices.length * bytes);
    const { decoded, isDecoded } = this;
    await Promise.all(
      Array.from({ length: indices.length }, async (_, k) => {
        const i = indices[k];
        if (decoded && isDecoded![i]) {
          out.set(decoded.subarray(i * bytes, (i + 1) * bytes), k * bytes);
          return;
        }
        const pixels = await this.decode(this.entries[i]);
        out.set(pixels, k * bytes);
        if (decoded) {
          decoded.set(pixels, i * bytes);
          isDecoded![i] = 1;
        }
      }),
    );
    return out;
  }

  private async decode(entry: ImglistEntry): Promise<Uint8Array> {
    const [h, w, c] = this.imageShape;
    const where = `${this.options.list}:${entry.line}: '${entry.relPath}'`;
    try {
      let pipeline = sharp(entry.path, { failOn: 'error' });
      if (this.options.imageSize !== undefined) {
        const meta = await pipeline.metadata();
        const [rw, rh] = shorterSideSize(meta.width!, meta.height!, this.options.preSize ?? this.options.imageSize);
        if (rw !== meta.width || rh !== meta.height) pipeline = pipeline.resize(rw, rh, { fit: 'fill', kernel: 'linear' });
        const top = roundHalfEven((rh - h) / 2);
        const left = roundHalfEven((rw - w) / 2);
        if (rh < h || rw < w) throw new DataError(`${where}: resized to ${rw}×${rh}, smaller than the ${w}×${h} crop (pre_size must be ≥ image_size)`);
        if (rh !== h || rw !== w) pipeline = pipeline.extract({ left, top, width: w, height: h });
      }
      pipeline = c === 3 ? pipeline.removeAlpha().toColourspace('srgb') : pipeline.grayscale();
      const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
      // grayscale() can still leave an alpha band; keep the first c channels
      if (info.width !== w || info.height !== h) {
        throw new DataError(`${where}: image is ${info.width}×${info.height}, the dataset's images are ${w}×${h}; set image_size to resize at decode`);
      }
      if (info.channels === c) return data;
      const out = new Uint8Array(h * w * c);
      for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) out[p * c + ch] = data[p * info.channels + Math.min(ch, info.channels - 1)];
      return out;
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw new DataError(`${where}: cannot decode image (${(error as Error).message})`, { cause: error });
    }
  }
}

export const imglistDataset = defineComponent({
  kind: 'dataset',
  name: 'imglist',
  description: "OpenOOD image list ('<path relative to root> <label>', -1 = OOD) decoded with sharp",
  args: imglistArgs,
  create: (args, ctx) => {
    const base = dataDirOf(ctx.config);
    const numClasses = args.num_classes ?? (ctx.config.benchmark as { num_classes?: number } | undefined)?.num_classes;
    if (numClasses === undefined) throw new ConfigError([{ path: 'imglist.args.num_classes', message: 'required (no benchmark num_classes to default to)' }]);
    return ImglistDataset.open({
      list: resolveDataPath(args.list, base),
      root: resolveDataPath(args.root, base),
      numClasses,
      imageSize: args.image_size,
      preSize: args.pre_size,
      channels: args.channels,
      missing: args.missing,
      cache: args.cache,
      name: args.name,
      logger: ctx.logger,
    });
  },
});
