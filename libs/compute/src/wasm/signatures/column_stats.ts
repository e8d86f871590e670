/** The exports of libs/compute/csrc/column_stats.c (p* arguments are heap byte offsets). */
export interface ColumnStatsKernels {
  col_sum(pX: number, n: number, c: number, scale: number, pOut: number, pScratch: number): void;
  col_sqdev(pX: number, pMean: number, n: number, c: number, scale: number, pOut: number, pScratch: number): void;
  bn_backward_sums(
    pDy: number,
    pX: number,
    pMean: number,
    pMask: number,
    n: number,
    c: number,
    pSumG: number,
    pSumGxc: number,
    pScratch: number,
  ): void;
  channel_affine(pX: number, n: number, c: number, pScale: number, pShift: number, relu: number, pY: number, pScratch: number): void;
  bn_backward_dx(
    pDy: number,
    pX: number,
    pMean: number,
    pMask: number,
    n: number,
    c: number,
    pA: number,
    pB: number,
    pK: number,
    pDx: number,
    pScratch: number,
  ): void;
  relu_backward_col_sum(pDy: number, pY: number, n: number, c: number, pDx: number, pSumG: number, pScratch: number): void;
}
