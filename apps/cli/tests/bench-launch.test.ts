import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureOutput } from './capture-output.js';
import { TINY_BENCH } from './fixtures/tiny-bench.js';

const RESULT_FILES = ['summary.json', 'summary.csv', 'results.csv'];

const io = captureOutput();
let dir: string;
let config: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oodkit-bench-launch-'));
  config = join(dir, 'tiny.yml');
  writeFileSync(config, TINY_BENCH);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const runFolder = (group: string) =>
  join(
    group,
    readdirSync(group).find((n) => n.startsWith('run-'))!,
  );

describe('oodkit bench --launcher local', { timeout: 240_000 }, () => {
  it('runs the cells in worker processes to the summary of the in-process run, bit for bit', async () => {
    expect(await main(['bench', '-c', config, '-o', join(dir, 'inprocess')])).toBe(0);
    const reference = runFolder(join(dir, 'inprocess'));
    io.out = '';
    expect(await main(['bench', '-c', config, '-o', join(dir, 'local'), '--launcher', 'local', '--jobs', '2']), io.err).toBe(0);
    const local = runFolder(join(dir, 'local'));
    for (const f of RESULT_FILES) expect(readFileSync(join(local, f), 'utf8'), f).toBe(readFileSync(join(reference, f), 'utf8'));
    expect(io.out).toContain(`results: ${local}`);
    io.out = '';
    expect(await main(['bench', '-c', config, '-o', join(dir, 'local'), '--status'])).toBe(0);
    expect(io.out).toMatch(/^generator +done/m);
    expect(io.out).toMatch(/^train\/base\/sio\/s0 +done/m);
    expect(io.out).toMatch(/9 done — .* \(local launch of /);
  });

  it('a failing cell is reported with its reason while the other cells finish', async () => {
    // oe needs an outlier dataset, which this config lacks: its training fails at start.
    const args = ['bench', '-c', config, '-o', join(dir, 'local'), '--launcher', 'local', '--jobs', '2', '--bench.trainers=[base,oe]'];
    expect(await main(args)).toBe(1);
    expect(io.err).toMatch(/6 evaluation\(s\) failed/);
    expect(io.err).toMatch(/msp on oe\/baseline\/s0: train\/oe\/baseline\/s0 failed: .*trainer 'oe' needs an outlier dataset/);
    const folders = readdirSync(join(dir, 'local')).filter((n) => n.startsWith('run-'));
    const failed = folders.map((n) => join(dir, 'local', n)).find((f) => readdirSync(f).includes('failures.json'))!;
    // the base cells finished (cached from the first run): the same numbers as the base-only matrix
    expect(readFileSync(join(failed, 'summary.json'), 'utf8')).toBe(
      readFileSync(join(runFolder(join(dir, 'inprocess')), 'summary.json'), 'utf8'),
    );
    io.out = '';
    expect(await main([...args.filter((a) => a !== '--launcher' && a !== 'local' && a !== '--jobs' && a !== '2'), '--status'])).toBe(0);
    expect(io.out).toMatch(/^train\/oe\/sio\/s0 +failed +.*needs an outlier dataset/m);
    expect(io.out).toMatch(
      /^features\/oe\/sio\/s0 +failed +features\/oe\/sio\/s0 needs train\/oe\/sio\/s0, which failed: .*needs an outlier/m,
    );
    expect(io.out).toMatch(
      /^eval\/oe\/sio\/s0 +failed +eval\/oe\/sio\/s0 needs features\/oe\/sio\/s0, which could not run \(train\/oe\/sio\/s0 failed\)/m,
    );
    expect(io.out).toMatch(/^eval\/base\/sio\/s0 +done/m);
  });

  it('in one process, a training that diverges fails its cell and the dependants; the other cells run on to the summary', async () => {
    // lr 1e38 overflows the first update: the loss is infinite at the second step.
    const group = join(dir, 'inprocess');
    const args = [
      'bench',
      '-c',
      config,
      '-o',
      group,
      '--bench.variants=[baseline]',
      '--bench.trainers=[base, {name: mixup, args: {lr: 1e38}}]',
    ];
    io.err = '';
    expect(await main(args)).toBe(1);
    expect(io.err).toMatch(/cell train\/mixup\/baseline\/s0 failed \(the other cells go on\): training diverged: loss is/);
    expect(io.err).toMatch(/3 evaluation\(s\) failed/);
    expect(io.err).toMatch(/knn on mixup\/baseline\/s0: train\/mixup\/baseline\/s0 failed: training diverged/);
    const run = readdirSync(group)
      .filter((n) => n.startsWith('run-'))
      .map((n) => join(group, n))
      .find((f) => readdirSync(f).includes('failures.json'))!;
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as {
      summary: { trainer: string; postprocessor: string }[];
    };
    expect(summary.summary.map((r) => `${r.trainer} ${r.postprocessor}`)).toEqual(['base msp', 'base ebo', 'base knn']);
    io.out = '';
    expect(await main([...args, '--status'])).toBe(0);
    expect(io.out).toMatch(/^train\/mixup\/baseline\/s0 +failed +training diverged/m);
    expect(io.out).toMatch(/^eval\/base\/baseline\/s0 +done/m);
  });

  it('bench.benchmarks: launches every benchmark, each cell told its benchmark, to the in-process results and combined table', async () => {
    const set = ['--bench.benchmarks=[mnist, fashionmnist]', '--bench.variants=[baseline]', '--bench.postprocessors=[msp]'];
    const local = join(dir, 'set-local');
    const inprocess = join(dir, 'set-inprocess');
    io.out = '';
    expect(await main(['bench', '-c', config, '-o', local, '--launcher', 'local', '--jobs', '2', ...set]), io.err).toBe(0);
    const table = io.out.match(/table of every benchmark: (\S+)/)![1]!;
    io.out = '';
    expect(await main(['bench', '-c', config, '-o', inprocess, ...set]), io.err).toBe(0);
    const reference = io.out.match(/table of every benchmark: (\S+)/)![1]!;
    expect(readFileSync(table, 'utf8')).toBe(readFileSync(reference, 'utf8'));
    expect(readFileSync(table, 'utf8')).toMatch(/## mnist[\s\S]*## fashionmnist/);
    // -o names the group: both benchmarks' run folders are in it
    const runs = (group: string) =>
      readdirSync(group)
        .filter((n) => n.startsWith('run-'))
        .sort();
    expect(runs(local)).toHaveLength(2);
    expect(runs(local)).toEqual(runs(inprocess));
    for (const run of runs(local))
      for (const f of RESULT_FILES)
        expect(readFileSync(join(local, run, f), 'utf8'), `${run} ${f}`).toBe(readFileSync(join(inprocess, run, f), 'utf8'));
    io.out = '';
    expect(await main(['bench', '-c', config, '-o', local, ...set, '--status'])).toBe(0);
    expect(io.out).toMatch(/^fashionmnist\n[\s\S]*^summary +done/m);
    io.err = '';
    expect(await main(['bench', '-c', config, '-o', local, ...set, '--cell', 'train@0'])).toBe(2);
    expect(io.err).toMatch(/needs --cell-benchmark <index> \(0 to 1\)/);
  });
});
