/** Everything report.html shows; plain data so it can be saved as JSON and re-rendered. */
export interface ReportModel {
  readonly title: string;
  readonly benchmark: string;
  readonly createdAt: string;
  /** Per (trainer, postprocessor): baseline vs +SIO, each a mean ± std over seeds (×100). */
  readonly summary: readonly SummaryRow[];
  /** Full OpenOOD-style tables, one per (trainer, variant, postprocessor). */
  readonly tables: readonly ReportTable[];
  /** One chart per OOD dataset: a curve per method and variant. */
  readonly roc: readonly RocChart[];
  /** One chart per method and variant: ID vs near vs far score histograms. */
  readonly histograms: readonly HistogramChart[];
  /** Sample grids (PNG, base64) of real and synthetic images. */
  readonly images: readonly ReportImage[];
  /** The resolved config, YAML. */
  readonly configYaml: string;
  readonly notes?: readonly string[];
}

export interface MeanStd {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
}

export interface SummaryRow {
  readonly trainer: string;
  readonly postprocessor: string;
  /** The classifier's accuracy on ID test (OpenOOD's ACC): the same for every method of one model. */
  readonly idAcc: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  /** Accuracy of the method's own predictions on ID test (PRED_ACC). */
  readonly predAcc: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  readonly nearAuroc: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  readonly farAuroc: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  readonly nearFpr95: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  readonly farFpr95: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
}

export interface ReportTable {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface RocChart {
  readonly dataset: string;
  readonly curves: readonly {
    readonly label: string;
    /** `<trainer> / <postprocessor>`, the key of the report's method selector. */
    readonly method: string;
    readonly variant: 'baseline' | 'sio';
    readonly fpr: readonly number[];
    readonly tpr: readonly number[];
  }[];
}

export interface HistogramChart {
  readonly title: string;
  /** `<trainer> / <postprocessor>`, the key of the report's method selector. */
  readonly method: string;
  readonly variant: 'baseline' | 'sio';
  /** Bin centres. */
  readonly centers: readonly number[];
  readonly series: readonly { readonly label: string; readonly density: readonly number[] }[];
}

export interface ReportImage {
  readonly label: string;
  readonly pngBase64: string;
}
