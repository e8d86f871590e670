/** The exports of libs/compute/csrc/col2im.c (p* arguments are heap byte offsets). */
export interface Col2imKernels {
  col2im_add(
    pCols: number,
    pDx: number,
    b0: number,
    bBegin: number,
    bEnd: number,
    inH: number,
    inW: number,
    ci: number,
    outH: number,
    outW: number,
    kH: number,
    kW: number,
    sH: number,
    sW: number,
    dH: number,
    dW: number,
    padTop: number,
    padLeft: number,
  ): void;
}
