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

/** A paired comparison over seeds: +SIO seed s minus baseline seed s, and the paired t-test of the deltas. */
export interface PairedDelta {
  /** The seeds both variants have, ascending: the pairs. */
  readonly seeds: readonly number[];
  readonly deltas: readonly number[];
  readonly meanDelta: number;
  readonly t: number;
  /** Two-sided paired t-test p-value (NaN with one pair or no change at all). */
  readonly p: number;
  /** Sign of every delta, in seed order. */
  readonly signs: readonly number[];
  /** p < 0.05. */
  readonly significant: boolean;
}

export interface SummaryRow {
  readonly trainer: string;
  readonly postprocessor: string;
  /** The SIO variant compared with the baseline (`sio`, or an ablation variant's name). */
  readonly variant: string;
  /** The classifier's accuracy on ID test (OpenOOD's ACC): the same for every method of one model. */
  readonly idAcc: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  /** Accuracy of the method's own predictions on ID test (PRED_ACC). */
  readonly predAcc: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  readonly nearAuroc: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  readonly farAuroc: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  readonly nearFpr95: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  readonly farFpr95: { readonly baseline?: MeanStd; readonly sio?: MeanStd };
  /** Paired t-tests per metric (absent when a variant is missing or no seed is shared). */
  readonly paired: {
    readonly nearAuroc?: PairedDelta;
    readonly farAuroc?: PairedDelta;
    readonly nearFpr95?: PairedDelta;
    readonly farFpr95?: PairedDelta;
  };
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
    readonly variant: string;
    readonly fpr: readonly number[];
    readonly tpr: readonly number[];
  }[];
}

export interface HistogramChart {
  readonly title: string;
  /** `<trainer> / <postprocessor>`, the key of the report's method selector. */
  readonly method: string;
  readonly variant: string;
  /** Bin centres. */
  readonly centers: readonly number[];
  readonly series: readonly { readonly label: string; readonly density: readonly number[] }[];
}

export interface ReportImage {
  readonly label: string;
  readonly pngBase64: string;
}
