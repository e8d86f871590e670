import { describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '@oodkit/core';
import {
  arraySpec,
  benchSectionSchema,
  cellFileName,
  findCell,
  planBenchCells,
  sbatchFlags,
  sbatchScript,
  launcherSectionSchema,
} from '../src/index.js';

const section = (value: unknown) => benchSectionSchema.parse(value);

describe('bench cell plan', () => {
  it('plans generator → train → features → eval per model → summary, with each cell after what it reads', () => {
    const plan = planBenchCells(
      section({ trainers: ['base', 'oe'], variants: ['baseline', 'sio'], seeds: [0, 1], postprocessors: ['msp'] }),
      {
        generatorSets: [['sio']],
      },
    );
    expect(plan.byStage.generator.map((c) => c.id)).toEqual(['generator']);
    expect(plan.byStage.train.map((c) => c.id)).toEqual([
      'train/base/baseline/s0',
      'train/base/baseline/s1',
      'train/base/sio/s0',
      'train/base/sio/s1',
      'train/oe/baseline/s0',
      'train/oe/baseline/s1',
      'train/oe/sio/s0',
      'train/oe/sio/s1',
    ]);
    expect(plan.cells).toHaveLength(1 + 8 * 3 + 1);
    // only +SIO trainings read the generator's samples
    expect(plan.byId.get('train/base/baseline/s0')!.deps).toEqual([]);
    expect(plan.byId.get('train/base/sio/s1')!.deps).toEqual(['generator']);
    expect(plan.byId.get('features/oe/sio/s0')!.deps).toEqual(['train/oe/sio/s0']);
    expect(plan.byId.get('eval/oe/sio/s0')!.deps).toEqual(['features/oe/sio/s0']);
    expect(plan.byId.get('summary')!.deps).toHaveLength(plan.cells.length - 1);
    // plan order is a topological order: every dependency comes earlier
    const seen = new Set<string>();
    for (const cell of plan.cells) {
      for (const dep of cell.deps) expect(seen.has(dep), `${cell.id} after ${dep}`).toBe(true);
      seen.add(cell.id);
    }
  });

  it('has no generator cell for .npy synthetic data or a baseline-only matrix', () => {
    expect(planBenchCells(section({ variants: ['baseline', 'sio'] }), { generatorSets: [] }).byStage.generator).toEqual([]);
    expect(planBenchCells(section({ variants: ['baseline'] }), { generatorSets: [['sio']] }).byStage.generator).toEqual([]);
  });

  it('plans one generator cell per synthetic set, each before the trainings of its variants, and the quality cell after them and the judge', () => {
    const plan = planBenchCells(
      section({
        trainers: ['base'],
        variants: ['baseline', 'sio', { name: 'cgan', sio: { synthetic: { name: 'cgan' } } }, { name: 'r5', sio: { real_ratio: 0.5 } }],
        seeds: [1, 2],
        postprocessors: ['msp'],
      }),
      { generatorSets: [['sio', 'r5'], ['cgan']], quality: { judge: 'base/baseline/s1' } },
    );
    expect(plan.byStage.generator.map((c) => [c.id, c.variants])).toEqual([
      ['generator/sio', ['sio', 'r5']],
      ['generator/cgan', ['cgan']],
    ]);
    expect(plan.byId.get('train/base/r5/s2')!.deps).toEqual(['generator/sio']);
    expect(plan.byId.get('train/base/cgan/s1')!.deps).toEqual(['generator/cgan']);
    expect(plan.byId.get('quality')!.deps).toEqual(['generator/sio', 'generator/cgan', 'train/base/baseline/s1']);
    expect(plan.cells.at(-2)!.id).toBe('quality');
    // a judge outside the plan is trained by the quality cell itself
    const without = planBenchCells(section({ trainers: ['oe'], variants: ['sio'], seeds: [0] }), {
      generatorSets: [['sio']],
      quality: { judge: 'base/baseline/s0' },
    });
    expect(without.byId.get('quality')!.deps).toEqual(['generator']);
  });

  it('finds cells by id or <stage>@<index>, and names what exists otherwise', () => {
    const plan = planBenchCells(section({ seeds: [0, 1, 2] }), { generatorSets: [] });
    expect(findCell(plan, 'train@4').id).toBe('train/base/sio/s1');
    expect(findCell(plan, 'summary@0').id).toBe('summary');
    expect(findCell(plan, 'eval/base/baseline/s2').stage).toBe('eval');
    expect(() => findCell(plan, 'train@6')).toThrow(/stage train has 6 cell\(s\)/);
    expect(() => findCell(plan, 'bake@0')).toThrow(UsageError);
    expect(() => findCell(plan, 'train/base/x/s0')).toThrow(/no such cell/);
    expect(cellFileName('train/base/sio/s1')).toBe('train~base~sio~s1');
  });

  it('refuses a trainer listed twice (its cells and tables would collide)', () => {
    expect(() => planBenchCells(section({ trainers: ['base', { name: 'base', args: {} }] }), { generatorSets: [] })).toThrow(ConfigError);
  });
});

describe('slurm job arrays', () => {
  it('collapses array indices into ranges', () => {
    expect(arraySpec([0, 1, 2, 3, 7, 9, 10])).toBe('0-3,7,9-10');
    expect(arraySpec([5])).toBe('5');
  });

  it('turns the launcher settings into sbatch flags and a script that forwards SIGTERM and requeues', () => {
    const settings = launcherSectionSchema.parse({
      name: 'slurm',
      slurm: { partition: 'gpu', account: 'lab', time: '4:00:00', gpus_per_cell: 1, cpus_per_cell: 8, extra_args: ['--qos=long'] },
    }).slurm;
    expect(sbatchFlags(settings)).toEqual([
      '--cpus-per-task=8',
      '--partition=gpu',
      '--account=lab',
      '--time=4:00:00',
      '--gres=gpu:1',
      '--requeue',
      '--signal=B:USR1@120',
      '--open-mode=append',
      '--qos=long',
    ]);
    const script = sbatchScript({
      stage: 'train',
      command: { argv: ['/usr/bin/node', '/repo/apps/cli/bin/oodkit.js', 'bench', '-c', '/my dir/a.yml'], cwd: '/repo' },
      runId: 'run-0123456789ab',
      logDir: '/out/slurm',
      settings,
    });
    expect(script).toContain('#SBATCH --gres=gpu:1');
    expect(script).toContain('\'/my dir/a.yml\' --cell "train@${SLURM_ARRAY_TASK_ID}" --cell-run run-0123456789ab &');
    expect(script).toContain(`trap 'kill -TERM "$child" 2>/dev/null' TERM`);
    expect(script).toContain(`trap 'requeue=1; kill -TERM "$child" 2>/dev/null' USR1`);
    expect(script).toContain('if [ "$rc" -eq 75 ] && [ "$requeue" -eq 1 ]; then scontrol requeue');
    expect(() => launcherSectionSchema.parse({ slurm: { time: 'two hours' } })).toThrow(/time limit/);
  });
});
