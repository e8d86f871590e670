/** The exports of libs/compute/csrc/winograd_f4.c (p* arguments are heap byte offsets). */
export interface WinogradF4Kernels {
  winograd4_filter(pW: number, pU: number, ci: number, co: number, eBegin: number, eEnd: number): void;
  winograd4_conv(
    pX: number,
    pU: number,
    pBias: number,
    pY: number,
    inH: number,
    inW: number,
    ci: number,
    outH: number,
    outW: number,
    co: number,
    relu: number,
    tileBegin: number,
    tileEnd: number,
    chunk: number,
    pScratch: number,
  ): void;
  winograd4_filter_grad(
    pX: number,
    pDy: number,
    pDu: number,
    inH: number,
    inW: number,
    ci: number,
    outH: number,
    outW: number,
    co: number,
    tileBegin: number,
    tileEnd: number,
    chunk: number,
    pScratch: number,
  ): void;
  winograd4_filter_grad_finish(pDu: number, parts: number, pDw: number, ci: number, co: number, eBegin: number, eEnd: number): void;
}
