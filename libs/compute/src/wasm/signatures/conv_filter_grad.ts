/** The exports of libs/compute/csrc/conv_filter_grad.c (p* arguments are heap byte offsets). */
export interface ConvFilterGradKernels {
  conv2d_filter_grad(
    pX: number,
    pDy: number,
    pDw: number,
    batch: number,
    inH: number,
    inW: number,
    ci: number,
    outH: number,
    outW: number,
    co: number,
    kH: number,
    kW: number,
    sH: number,
    sW: number,
    dH: number,
    dW: number,
    coBegin: number,
    coEnd: number,
    iBegin: number,
    iEnd: number,
  ): void;
}
