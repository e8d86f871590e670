import sharp from 'sharp';
import { z } from 'zod';
import { ConfigError, DataError, defineComponent, type ImageDataset, type Logger } from '@oodkit/core';
import { parseImglist, type ImglistEntry } from '../formats/imglist.js';
import { decodeImage, shorterSideSize } from '../workers/decode.cjs';
import { DecodeFailure, DecodePool } from '../workers/decode-pool.js';
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
  /** `pil`: decode, Convert('RGB') and Resize as Pillow does, byte for byte (OpenOOD's test transform; preprocessors/pil.cjs). `libvips` (when omitted): sharp's own linear resize (faster, not byte-equal to Pillow). No schema default, so existing configs resolve and hash as before. */
  resize: z.enum(['libvips', 'pil']).optional(),
  /** A listed image that does not exist: fail, or skip it and report the count. */
  missing: z.enum(['fail', 'skip']).default('fail'),
  /** `memory`: keep decoded images (H·W·C bytes each) so later epochs skip decoding — for CIFAR-size sets. */
  cache: z.enum(['none', 'memory']).default('none'),
  /** Decode in this many worker_threads (0: sharp calls from the loading thread; libvips still decodes off it). */
  workers: z.int().min(0).max(64).default(0),
  name: z.string().optional(),
});

export interface ImglistOptions {
  list: string;
  root: string;
  numClasses: number;
  imageSize?: number;
  preSize?: number;
  channels: 1 | 3;
  resize?: 'libvips' | 'pil';
  missing: 'fail' | 'skip';
  cache?: 'none' | 'memory';
  workers?: number;
  name?: string;
  logger?: Logger;
}

export { shorterSideSize };

/**
 * An OpenOOD image list decoded with sharp (libvips): each readImages call decodes its images
 * concurrently on libuv's thread pool, so the JS thread stays free while a loader prefetches.
 */
export class ImglistDataset implements ImageDataset {
  readonly labels: Int32Array;
  private decoded: Uint8Array | undefined;
  private isDecoded: Uint8Array | undefined;
  private readonly pool: DecodePool | undefined;

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
    if (options.workers) this.pool = new DecodePool(options.workers);
  }

  static async open(options: ImglistOptions): Promise<ImglistDataset> {
    const { entries, skipped } = await parseImglist(options.list, options.root, {
      numClasses: options.numClasses,
      missing: options.missing,
    });
    if (skipped.length > 0) {
      options.logger?.warn(
        `${options.list}: skipped ${skipped.length} missing image(s), e.g. line ${skipped[0].line} '${skipped[0].relPath}'`,
      );
    }
    let shape: [number, number, number];
    if (options.imageSize !== undefined) shape = [options.imageSize, options.imageSize, options.channels];
    else {
      const first = entries[0];
      const meta = await sharp(first.path)
        .metadata()
        .catch((error: unknown) => {
          throw new DataError(`${options.list}:${first.line}: cannot decode '${first.relPath}' (${(error as Error).message})`, {
            cause: error,
          });
        });
      shape = [meta.height ?? 0, meta.width ?? 0, options.channels];
    }
    const name =
      options.name ??
      options.list
        .split(/[\\/]/)
        .pop()!
        .replace(/\.txt$/, '');
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
    const todo: number[] = [];
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (decoded && isDecoded![i]) out.set(decoded.subarray(i * bytes, (i + 1) * bytes), k * bytes);
      else todo.push(k);
    }
    const store = (k: number, pixels: Uint8Array) => {
      const i = indices[k];
      out.set(pixels, k * bytes);
      if (decoded) {
        decoded.set(pixels, i * bytes);
        isDecoded![i] = 1;
      }
    };
    if (this.pool && todo.length > 0) {
      const per = Math.ceil(todo.length / this.pool.size);
      const chunks: number[][] = [];
      for (let s = 0; s < todo.length; s += per) chunks.push(todo.slice(s, s + per));
      await Promise.all(
        chunks.map(async (chunk) => {
          const entries = chunk.map((k) => this.entries[indices[k]]);
          let pixels: Uint8Array;
          try {
            pixels = await this.pool!.decode(
              entries.map((e) => e.path),
              this.options,
              this.imageShape,
            );
          } catch (error) {
            const failed = error instanceof DecodeFailure && error.index >= 0 ? entries[error.index] : entries[0];
            throw new DataError(`${this.options.list}:${failed.line}: '${failed.relPath}': ${(error as Error).message}`, { cause: error });
          }
          chunk.forEach((k, j) => store(k, pixels.subarray(j * bytes, (j + 1) * bytes)));
        }),
      );
    } else {
      await Promise.all(todo.map(async (k) => store(k, await this.decode(this.entries[indices[k]]))));
    }
    return out;
  }

  private async decode(entry: ImglistEntry): Promise<Uint8Array> {
    try {
      return await decodeImage(entry.path, this.options, this.imageShape);
    } catch (error) {
      throw new DataError(`${this.options.list}:${entry.line}: '${entry.relPath}': ${(error as Error).message}`, { cause: error });
    }
  }

  /** Stops the decode workers, if any. */
  async close(): Promise<void> {
    await this.pool?.close();
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
    if (numClasses === undefined)
      throw new ConfigError([{ path: 'imglist.args.num_classes', message: 'required (no benchmark num_classes to default to)' }]);
    return ImglistDataset.open({
      list: resolveDataPath(args.list, base),
      root: resolveDataPath(args.root, base),
      numClasses,
      imageSize: args.image_size,
      preSize: args.pre_size,
      channels: args.channels,
      resize: args.resize,
      missing: args.missing,
      cache: args.cache,
      workers: args.workers,
      name: args.name,
      logger: ctx.logger,
    });
  },
});
