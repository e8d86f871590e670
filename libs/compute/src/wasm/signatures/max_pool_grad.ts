/** The exports of libs/compute/csrc/max_pool_grad.c (p* arguments are heap byte offsets). */
export interface MaxPoolGradKernels {
  max_pool_grad(
    pX: number,
    pDy: number,
    pDx: number,
    batch: number,
    inH: number,
    inW: number,
    c: number,
    outH: number,
    outW: number,
    fH: number,
    fW: number,
    sH: number,
    sW: number,
    padTop: number,
    padLeft: number,
  ): void;
}
