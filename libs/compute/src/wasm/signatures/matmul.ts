/** The exports of libs/compute/csrc/matmul.c (p* arguments are heap byte offsets). */
export interface MatmulKernels {
  matmul(
    pA: number,
    pB: number,
    pC: number,
    n: number,
    k: number,
    aRowStride: number,
    aColStride: number,
    rowBegin: number,
    rowEnd: number,
  ): void;
  transpose2d(pIn: number, pOut: number, m: number, n: number): void;
}
