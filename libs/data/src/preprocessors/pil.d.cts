export function coefficients(inSize: number, outSize: number): { ksize: number; bounds: Int32Array; weights: Int32Array };
export function resizeBilinear(src: Uint8Array, w: number, h: number, c: number, ow: number, oh: number): Uint8Array;
export function toRgb(src: Uint8Array, pixels: number, bands: number): Uint8Array;
export function toL(src: Uint8Array, pixels: number, bands: number): Uint8Array;
export function from16Bit(src16: Uint16Array, bands: number): Uint8Array;
