// Against a real SLURM (tools/slurm/start-local-slurm.sh starts one; .ci/run does): skipped, with the
// reason in the suite name, where `sinfo` does not answer.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelJobs, queueStates, readCellStatus, readLaunchRecord, slurmReachable } from '@oodkit/pipelines';
import { main } from '../src/main.js';
import { captureOutput } from './capture-output.js';
import { SLOW_TRAINING, TINY_BENCH } from './fixtures/tiny-bench.js';

const slurm = slurmReachable();
// vitest's summary shows only "skipped": say why, once, where the run's output is read.
if (!slurm.ok)
  console.warn(`apps/cli/tests/bench-slurm.test.ts skipped: no SLURM here (${slurm.reason}); tools/slurm/start-local-slurm.sh starts one`);
const RESULT_FILES = ['summary.json', 'summary.csv', 'results.csv'];
const runFolder = (group: string) =>
  join(
    group,
    readdirSync(group).find((n) => n.startsWith('run-'))!,
  );
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Waits until none of the launch's jobs is in the queue. */
async function drained(outDir: string, timeoutMs = 240_000): Promise<void> {
  const ids = (readLaunchRecord(outDir)?.jobs ?? []).map((j) => j.jobId);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (queueStates(ids)!.size === 0) return;
    await sleep(1000);
  }
  throw new Error(`jobs ${ids.join(', ')} still queued after ${timeoutMs / 1000} s`);
}

describe.skipIf(!slurm.ok)(
  `oodkit bench --launcher slurm${slurm.ok ? '' : ` — skipped: no SLURM here (${slurm.reason})`}`,
  { timeout: 300_000 },
  () => {
    const io = captureOutput();
    let dir: string;
    let config: string;
    let reference: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'oodkit-bench-slurm-'));
      config = join(dir, 'tiny.yml');
      writeFileSync(config, TINY_BENCH);
      // The in-process run every scheduled run must equal.
      expect(await main(['bench', '-c', config, '-o', join(dir, 'inprocess')])).toBe(0);
      reference = runFolder(join(dir, 'inprocess'));
    }, 300_000);
    afterAll(() => {
      for (const group of ['slurm', 'requeue', 'failing'])
        if (existsSync(join(dir, group))) {
          const outDir = runFolder(join(dir, group));
          cancelJobs((readLaunchRecord(outDir)?.jobs ?? []).map((j) => j.jobId));
        }
      rmSync(dir, { recursive: true, force: true });
    });

    it('submits job arrays per stage, returns at once, and ends with the report of the in-process run', async () => {
      const t0 = Date.now();
      expect(await main(['bench', '-c', config, '-o', join(dir, 'slurm'), '--launcher', 'slurm', '--time', '10'])).toBe(0);
      expect(Date.now() - t0).toBeLessThan(60_000);
      const outDir = runFolder(join(dir, 'slurm'));
      expect(io.out).toMatch(/submitted generator: job \d+ \(1 cell\(s\)\)/);
      expect(io.out).toMatch(/submitted train: job \d+ \(2 cell\(s\)\)/);
      expect(io.out).toMatch(/submitted summary: job \d+/);
      expect(io.out).toContain(`results: ${outDir}`);
      expect(readFileSync(join(outDir, 'slurm', 'features.sbatch'), 'utf8')).toContain('#SBATCH --time=10');
      await drained(outDir);
      for (const f of RESULT_FILES) expect(readFileSync(join(outDir, f), 'utf8'), f).toBe(readFileSync(join(reference, f), 'utf8'));
      expect(existsSync(join(outDir, 'report.html'))).toBe(true);
      io.out = '';
      expect(await main(['bench', '-c', config, '-o', join(dir, 'slurm'), '--status'])).toBe(0);
      expect(io.out).toMatch(/^summary +done +\[\d+_0\]/m);
      expect(io.out).toMatch(/9 done — .*\(slurm launch of /);
    });

    it('a training scancel-ed mid-epoch checkpoints; launched again, it resumes there and the results equal the in-process run', async () => {
      expect(await main(['bench', '-c', config, '-o', join(dir, 'slow-inprocess'), ...SLOW_TRAINING])).toBe(0);
      const slowReference = runFolder(join(dir, 'slow-inprocess'));
      const group = join(dir, 'requeue');
      const args = ['bench', '-c', config, '-o', group, ...SLOW_TRAINING, '--launcher', 'slurm'];
      expect(await main(args)).toBe(0);
      const outDir = runFolder(group);
      const trainJob = readLaunchRecord(outDir)!.jobs!.find((j) => j.stage === 'train')!.jobId;
      // Wait for the baseline training to be past its first in-epoch checkpoint, then cancel the stage.
      const products = join(group, 'products');
      const deadline = Date.now() + 180_000;
      for (;;) {
        const running = readCellStatus(outDir, 'train/base/baseline/s0')?.state === 'running';
        const work = existsSync(products) ? readdirSync(products).find((n) => n.startsWith('train-') && n.endsWith('.work')) : undefined;
        if (running && work && existsSync(join(products, work, 'checkpoints', 'last.ckpt'))) break;
        if (Date.now() > deadline) throw new Error('the training never reached a checkpoint');
        await sleep(200);
      }
      expect(cancelJobs([trainJob])).toBeUndefined();
      await drained(outDir);
      const stopped = readCellStatus(outDir, 'train/base/baseline/s0')!;
      expect(stopped.state, JSON.stringify(stopped)).toBe('interrupted');
      expect(stopped.reason).toMatch(/training stopped on request at epoch \d, step \d+/);
      // what could not run without it says so; the summary still ran and reported
      expect(readCellStatus(outDir, 'features/base/baseline/s0')?.reason).toMatch(/needs train\/base\/baseline\/s0, which is interrupted/);

      io.out = '';
      expect(await main(args)).toBe(0);
      expect(io.out).toMatch(/submitted train: job \d+ \(1 cell\(s\)\)/); // only what is not done
      await drained(outDir);
      const resumed = readCellStatus(outDir, 'train/base/baseline/s0')!;
      expect(resumed.state).toBe('done');
      expect(resumed.resumedFrom).toBeDefined();
      expect(resumed.resumedFrom!.epoch * 128 + resumed.resumedFrom!.stepInEpoch).toBeGreaterThan(0);
      for (const f of RESULT_FILES) expect(readFileSync(join(outDir, f), 'utf8'), f).toBe(readFileSync(join(slowReference, f), 'utf8'));
      expect(existsSync(join(outDir, 'failures.json'))).toBe(false);
    });

    it('a failing cell is reported by the summary job while the other cells finish', async () => {
      const group = join(dir, 'failing');
      // oe needs an outlier dataset, which this config lacks: its training fails. (Baseline only: 7 tasks.)
      const args = ['bench', '-c', config, '-o', group, '--bench.trainers=[base,oe]', '--bench.variants=[baseline]'];
      expect(await main([...args, '--launcher', 'slurm'])).toBe(0);
      const outDir = runFolder(group);
      await drained(outDir);
      const failures = JSON.parse(readFileSync(join(outDir, 'failures.json'), 'utf8')) as {
        cell: string;
        postprocessor: string;
        message: string;
      }[];
      expect(failures.map((f) => `${f.postprocessor} ${f.cell}`)).toEqual([
        'msp oe/baseline/s0',
        'ebo oe/baseline/s0',
        'knn oe/baseline/s0',
      ]);
      expect(failures[0]!.message).toMatch(/train\/oe\/baseline\/s0 failed: .*trainer 'oe' needs an outlier dataset/);
      // the base model's cells finished: its rows are in the summary
      const summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as {
        summary: { trainer: string; postprocessor: string }[];
      };
      expect(summary.summary.map((r) => `${r.trainer} ${r.postprocessor}`)).toEqual(['base msp', 'base ebo', 'base knn']);
      const summaryLog = readdirSync(join(outDir, 'slurm')).find((n) => n.startsWith('summary-'))!;
      expect(readFileSync(join(outDir, 'slurm', summaryLog), 'utf8')).toMatch(/3 evaluation\(s\) failed/);
      io.out = '';
      expect(await main([...args, '--status'])).toBe(0);
      expect(io.out).toMatch(/^train\/oe\/baseline\/s0 +failed +\[\d+_\d\] +.*needs an outlier dataset/m);
      expect(io.out).toMatch(/^eval\/oe\/baseline\/s0 +failed +.*could not run \(train\/oe\/baseline\/s0 failed\)/m);
      expect(io.out).toMatch(/^eval\/base\/baseline\/s0 +done/m);
    });
  },
);
