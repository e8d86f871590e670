/** The exports of libs/compute/csrc/eigen.c (p* arguments are heap byte offsets). */
export interface EigenKernels {
  /** Returns 0, or 1 when the QL iteration did not converge. */
  symmetric_eigen_f64(pW: number, pD: number, pE: number, n: number): number;
}
