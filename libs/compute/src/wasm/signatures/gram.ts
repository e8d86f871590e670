/** The exports of libs/compute/csrc/gram.c (p* arguments are heap byte offsets). */
export interface GramKernels {
  gram_f64(pX: number, rows: number, panelRows: number, dimP: number, pAcc: number, tileBegin: number, tileEnd: number): void;
}
