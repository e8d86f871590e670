/** The exports of libs/compute/csrc/pad.c (p* arguments are heap byte offsets). */
export interface PadKernels {
  pad_nhwc(
    pX: number,
    pY: number,
    batch: number,
    inH: number,
    inW: number,
    c: number,
    top: number,
    bottom: number,
    left: number,
    right: number,
  ): void;
  crop_nhwc(
    pX: number,
    pY: number,
    batch: number,
    inH: number,
    inW: number,
    c: number,
    top: number,
    left: number,
    outH: number,
    outW: number,
  ): void;
}
