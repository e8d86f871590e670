export interface DecodeOptions {
  readonly imageSize?: number;
  readonly preSize?: number;
  /** 'libvips' (default): sharp's linear resize. 'pil': Pillow's decode-convert-resize, byte-exact (OpenOOD's test transform). */
  readonly resize?: 'libvips' | 'pil';
}
export function roundHalfEven(v: number): number;
export function shorterSideSize(w: number, h: number, size: number): [number, number];
export function decodeImage(path: string, options: DecodeOptions, shape: readonly [number, number, number]): Promise<Uint8Array>;
