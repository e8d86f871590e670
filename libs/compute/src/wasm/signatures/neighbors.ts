/** The exports of libs/compute/csrc/neighbors.c (p* arguments are heap byte offsets). */
export interface NeighborsKernels {
  neighbour_pack(pRows: number, n: number, dim: number, pPacked: number, pSqNorms: number, panelBegin: number, panelEnd: number): void;
  neighbour_topk(
    pQueries: number,
    dim: number,
    pPacked: number,
    pSqNorms: number,
    n: number,
    l2: number,
    k: number,
    pOut: number,
    rowBegin: number,
    rowEnd: number,
    blockPanels: number,
    pQuerySqNorms: number,
    pScratch: number,
  ): void;
  relation_sum(
    pFeatures: number,
    dim: number,
    pProbs: number,
    classes: number,
    pBankFeatures: number,
    pBankProbs: number,
    n: number,
    thres: number,
    power: number,
    pOut: number,
    rowBegin: number,
    rowEnd: number,
    blockPanels: number,
    pScratch: number,
  ): void;
}
