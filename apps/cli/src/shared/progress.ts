import cliProgress from 'cli-progress';
import { createLogger, type LogLevel, type Logger } from '@oodkit/core';
import type { BenchEvent } from '@oodkit/pipelines';

/** How a pipeline's progress events (bench stages, cells) reach the user. */
export interface Reporter {
  readonly logger: Logger;
  onEvent(event: BenchEvent): void;
  stop(): void;
}

/** Live bars with ETA on a terminal; plain log lines every 15 s (and at each stage end) otherwise. */
export function createReporter(level: LogLevel, tty: boolean, name: string): Reporter {
  if (!tty) {
    const logger = createLogger(level, name);
    let last = 0;
    let stage: { label: string; total: number; unit: string } | undefined;
    return {
      logger,
      onEvent(event) {
        if (event.type === 'plan') logger.info(`plan: ${event.trainings} trained models, ${event.evaluations} evaluations`);
        if (event.type === 'stage') {
          stage = event;
          last = Date.now();
          if (event.stage !== 'eval') logger.info(`${event.label} …`);
        }
        if (event.type === 'progress' && stage && Date.now() - last > 15_000) {
          last = Date.now();
          const total = event.total ?? stage.total;
          logger.info(`${stage.label}: ${event.current.toFixed(1)}/${total} ${stage.unit}${event.detail ? ` · ${event.detail}` : ''}`);
        }
        if (event.type === 'stage-end' && event.stage !== 'eval')
          logger.info(`${event.label}: ${event.cached ? 'cached' : `done in ${event.seconds.toFixed(1)} s`}`);
        if (event.type === 'cell') logger.info(event.line);
      },
      stop: () => undefined,
    };
  }
  // Bars only once a pipeline reports stages: until then (and for pipelines that never do) lines go
  // straight to stderr, because a MultiBar without bars holds its log lines back.
  let multibar: cliProgress.MultiBar | undefined;
  const bars = () =>
    (multibar ??= new cliProgress.MultiBar(
      {
        format: ' {label} |{bar}| {percentage}% · ETA {eta_formatted} · {detail}',
        barsize: 28,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    ));
  const log = (line: string) => (multibar ? multibar.log(line) : process.stderr.write(line));
  const logger = createLogger(level, name, (line) => log(`${line}\n`));
  let overall: cliProgress.SingleBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  return {
    logger,
    onEvent(event) {
      switch (event.type) {
        case 'plan':
          overall = bars().create(event.evaluations, 0, { label: 'evaluations'.padEnd(26), detail: '' });
          break;
        case 'stage':
          bar?.stop();
          if (bar) bars().remove(bar);
          bar = bars().create(event.total, 0, { label: event.label.slice(0, 26).padEnd(26), detail: '' });
          break;
        case 'progress':
          if (event.total !== undefined) bar?.setTotal(event.total);
          bar?.update(event.current, { detail: event.detail ?? '' });
          break;
        case 'stage-end':
          bar?.update(bar.getTotal());
          if (event.stage === 'eval') overall?.update(++done);
          else log(`${event.label}: ${event.cached ? 'cached' : `${event.seconds.toFixed(1)} s`}\n`);
          break;
        case 'cell':
          log(`${event.line}\n`);
          break;
      }
    },
    stop() {
      multibar?.stop();
      multibar = undefined;
    },
  };
}
