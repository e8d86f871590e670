import type { Logger, Postprocessor } from '@oodkit/core';
import type { FeatureSource, SplitScores } from './source.js';

/** One finished scoring pass of an evaluation (a split scored with the current hyperparameters). */
export interface OodProgressEvent {
  readonly postprocessor: string;
  /** Passes done so far and planned in all (APS: two per grid point; then test, CSID, near, far). */
  readonly pass: number;
  readonly total: number;
  readonly split: string;
  readonly elapsedMs: number;
  /** Remaining time estimated from the mean pass so far; null before the plan is known. */
  readonly etaMs: number | null;
}

/** Progress lines go to the log only for evaluations expected to run longer than this. */
const LONG_MS = 10_000;
/** … and then at most this often. */
const EVERY_MS = 5_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/**
 * Times the scoring passes of one evaluation and reports them: every pass to `onProgress`, and to
 * the log (info) an estimate once the first pass shows the evaluation will be long, then a progress
 * line every few seconds — so `eval-features --postprocessor all` says what knn or relation will cost
 * instead of going quiet. Fast methods stay silent.
 */
export class ScoringProgress {
  private total: number | null = null;
  private done = 0;
  private scoringMs = 0;
  private readonly started = Date.now();
  private lastLog = 0;
  private announced = false;

  constructor(
    private readonly postprocessor: string,
    private readonly logger?: Logger,
    private readonly onProgress?: (event: OodProgressEvent) => void,
  ) {}

  /** The number of scoring passes the evaluation will make. */
  plan(total: number): void {
    this.total = total;
    this.logger?.debug(`${this.postprocessor}: ${total} scoring passes planned`);
  }

  /** Runs setup, logging its time when it was long. */
  async setup(run: () => Promise<void>): Promise<void> {
    const t0 = Date.now();
    await run();
    const ms = Date.now() - t0;
    if (ms >= EVERY_MS) this.logger?.info(`${this.postprocessor}: setup took ${seconds(ms)}`);
  }

  /** `source` with every scoreSplit timed and reported. */
  track(source: FeatureSource): FeatureSource {
    return {
      model: source.model,
      splits: source.splits,
      setupSplit: (role, layers) => source.setupSplit(role, layers),
      classifierPredictions: (name) => source.classifierPredictions(name),
      scoreSplit: async (name: string, pp: Postprocessor): Promise<SplitScores> => {
        const t0 = Date.now();
        const scores = await source.scoreSplit(name, pp);
        this.passDone(name, Date.now() - t0);
        return scores;
      },
    };
  }

  private passDone(split: string, ms: number): void {
    this.done++;
    this.scoringMs += ms;
    const now = Date.now();
    const eta = this.total === null ? null : Math.max(0, this.total - this.done) * (this.scoringMs / this.done);
    this.onProgress?.({
      postprocessor: this.postprocessor,
      pass: this.done,
      total: this.total ?? this.done,
      split,
      elapsedMs: now - this.started,
      etaMs: eta,
    });
    if (!this.logger || eta === null || this.total === null) return;
    if (!this.announced) {
      if (eta + this.scoringMs < LONG_MS) return;
      this.announced = true;
      this.lastLog = now;
      this.logger.info(
        `${this.postprocessor}: ${this.total} scoring passes, the first (${split}) took ${seconds(ms)} — about ${seconds(eta)} more`,
      );
      return;
    }
    if (now - this.lastLog >= EVERY_MS || this.done === this.total) {
      this.lastLog = now;
      this.logger.info(`${this.postprocessor}: pass ${this.done}/${this.total} (${split}) done, about ${seconds(eta)} left`);
    }
  }
}
