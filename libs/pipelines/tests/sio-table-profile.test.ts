import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRun } from '@oodkit/core';
import { computeModule } from '@oodkit/compute';
import { dataModule, parseBenchmark, resolveBenchmarkValueSync } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { evaluatorsModule } from '@oodkit/evaluators';
import { parseSioConfig, sioModule } from '@oodkit/sio';
import {
  benchJudge,
  benchPlan,
  benchPostprocessors,
  benchSectionSchema,
  benchTrainers,
  benchVariants,
  pipelinesModule,
  variantSioSection,
} from '../src/index.js';

const builtins = [
  computeModule,
  dataModule,
  networksModule,
  postprocessorsModule,
  trainersModule,
  evaluatorsModule,
  sioModule,
  pipelinesModule,
];
const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const BENCH_DEFAULT = repo('configs/bench/default.yml');

/** The score the SIO paper evaluates each training method with (msp unless listed). */
const PAIRED_SCORE: Record<string, string> = {
  vos: 'ebo',
  godin: 'godin',
  // training-coupled methods are scored by their own OpenOOD postprocessor; energy_oe by the energy score
  conf_branch: 'conf_branch',
  rotpred: 'rotpred',
  t2fnorm: 't2fnorm',
  cider: 'cider',
  npos: 'npos',
  energy_oe: 'ebo',
  objectosphere: 'objectosphere',
};

async function profileConfig(name: string) {
  const { config, app } = await loadRun({ files: [BENCH_DEFAULT], profiles: [repo(`configs/profiles/${name}.yml`)], builtins });
  return { config: config.value as Record<string, unknown>, registry: app.registry };
}

describe('--profile sio-table', () => {
  it('validates on configs/bench/default.yml; with sio-table-extended it lists every registered trainer once, with its paired score', async () => {
    const { config, registry } = await profileConfig('sio-table');
    const bench = benchSectionSchema.parse(config.bench);
    const trainers = benchTrainers(bench);
    const extended = await profileConfig('sio-table-extended');
    const extendedTrainers = benchTrainers(benchSectionSchema.parse(extended.config.bench));
    const registered = registry.names('trainer');
    // the paper's table: the base trainer and its six training methods (plus the four it shares with OpenOOD v1.5)
    expect(trainers.map((t) => t.name)).toEqual([
      'base',
      'oe',
      'mixoe',
      'logitnorm',
      'mixup',
      'cutmix',
      'regmixup',
      'vos',
      'godin',
      'pixmix',
    ]);
    // a trainer added to the registry (another branch) must get its row in one of the two
    const listed = [...trainers, ...extendedTrainers].map((t) => t.name);
    expect(
      registered.filter((name) => !listed.includes(name)),
      'registered trainers missing from configs/profiles/sio-table.yml and sio-table-extended.yml',
    ).toEqual([]);
    expect(new Set(listed).size).toBe(listed.length);
    for (const t of extendedTrainers)
      expect(
        t.postprocessors.map((p) => p.name),
        t.name,
      ).toEqual([PAIRED_SCORE[t.name] ?? 'msp']);
    // the extended profile shares the generators and sizes
    for (const key of ['output_dir', 'train', 'sio']) expect(extended.config[key], key).toEqual(config[key]);
    expect((extended.config.bench as { limits: unknown }).limits).toEqual(bench.limits);
    const posthoc = benchPostprocessors(bench).map((p) => p.name);
    expect(posthoc.length).toBeGreaterThanOrEqual(20);
    for (const t of trainers) {
      const names = t.postprocessors.map((p) => p.name);
      if (t.name === 'base') expect(names).toEqual(posthoc);
      else expect(names, t.name).toEqual([PAIRED_SCORE[t.name] ?? 'msp']);
    }
    // VOS scores with energy at T = 1, no temperature search
    const vos = trainers.find((t) => t.name === 'vos')!.postprocessors[0]!;
    expect(vos.aps).toBe(false);
    expect(registry.resolveArgs('postprocessor', { name: vos.name, args: vos.args })).toMatchObject({ temperature: 1 });
    expect(bench.seeds).toEqual([0, 1, 2]);
    expect(bench.variants).toEqual(['baseline', 'sio']);
    expect(parseSioConfig(config.sio)).toMatchObject({ real_ratio: 0.8, synthetic: { name: 'cvae', count: 10000 } });
    expect(config.train).toMatchObject({ epochs: 5, outlier: { name: 'generated' } });
  });

  it('builds the full run plan on both embedded benchmarks without training: cell counts from the config', async () => {
    const { config, registry } = await profileConfig('sio-table');
    const bench = benchSectionSchema.parse(config.bench);
    expect(bench.benchmarks).toEqual(['mnist', 'fashionmnist']);
    for (const entry of bench.benchmarks!) {
      const parsed = parseBenchmark(resolveBenchmarkValueSync(entry), registry);
      expect(parsed.name).toBe(entry);
    }
    const plan = benchPlan(bench);
    const trainers = benchTrainers(bench);
    const models = trainers.length * bench.variants.length * bench.seeds.length;
    expect(plan.trainings).toHaveLength(models);
    const evaluations = trainers.reduce((n, t) => n + t.postprocessors.length * bench.variants.length * bench.seeds.length, 0);
    expect(plan.evaluations).toHaveLength(evaluations);
    // per benchmark; the profile runs the plan once on each
    expect(models * bench.benchmarks!.length).toBe(trainers.length * 12);
    expect(new Set(plan.trainings.map((t) => t.name)).size).toBe(models);
    expect(plan.trainings.slice(0, 6).map((t) => t.name)).toEqual([
      'base/baseline/s0',
      'base/baseline/s1',
      'base/baseline/s2',
      'base/sio/s0',
      'base/sio/s1',
      'base/sio/s2',
    ]);
    expect(plan.evaluations.filter((e) => e.cell.name === 'godin/sio/s1').map((e) => e.postprocessor.name)).toEqual(['godin']);
  });
});

describe('--profile sio-ablation', () => {
  it('pairs the baseline with cvae and cgan at 0.8 and with cvae at 0.5 and 0.9, sharing sio-table’s cells', async () => {
    const { config } = await profileConfig('sio-ablation');
    const table = (await profileConfig('sio-table')).config;
    const bench = benchSectionSchema.parse(config.bench);
    const variants = benchVariants(bench);
    const sio = Object.fromEntries(variants.filter((v) => v.sio).map((v) => [v.name, parseSioConfig(variantSioSection(config.sio, v))!]));
    expect(Object.keys(sio)).toEqual(['sio', 'cgan', 'real_ratio_0.5', 'real_ratio_0.9']);
    expect(sio.sio).toMatchObject({ real_ratio: 0.8, synthetic: { name: 'cvae', count: 10000, args: { epochs: 6 } } });
    // another generator replaces the synthetic block whole (cvae's args would not fit cgan)
    expect(sio.cgan).toMatchObject({ real_ratio: 0.8, synthetic: { name: 'cgan', count: 10000 } });
    expect((sio.cgan!.synthetic as { args?: Record<string, unknown> }).args ?? {}).not.toHaveProperty('epochs');
    expect(sio['real_ratio_0.5']).toMatchObject({ real_ratio: 0.5, synthetic: { name: 'cvae', count: 10000 } });
    expect(sio['real_ratio_0.9']!.real_ratio).toBe(0.9);
    const plan = benchPlan(bench);
    expect(plan.trainings).toHaveLength(5 * 3);
    expect(plan.evaluations).toHaveLength(5 * 3 * benchPostprocessors(bench).length);
    // shared products: same output folder, training settings and SIO section as --profile sio-table
    for (const key of ['output_dir', 'train', 'sio', 'network']) expect(config[key], key).toEqual(table[key]);
    expect((config.bench as { limits: unknown }).limits).toEqual((table.bench as { limits: unknown }).limits);
  });

  it('sio-table-extended judges the generators with the model sio-table trains (its base at the same args and seed)', async () => {
    const table = benchSectionSchema.parse((await profileConfig('sio-table')).config.bench);
    const extended = benchSectionSchema.parse((await profileConfig('sio-table-extended')).config.bench);
    expect(benchTrainers(extended).map((t) => t.name)).not.toContain('base');
    expect(benchJudge(extended)).toEqual(benchJudge(table));
    expect(benchJudge(table).trainer).toEqual({ name: 'base', args: { lr: 0.03 } });
    // without base and without bench.judge: the base trainer's defaults
    expect(benchJudge(benchSectionSchema.parse({ trainers: ['oe'], seeds: [2, 1] }))).toEqual({
      trainer: { name: 'base', args: {} },
      seed: 1,
    });
  });

  it('bench.judge is checked at load time: a wrong arg of the base trainer, or beside a listed base', async () => {
    const load = (override: string) =>
      loadRun({
        files: [BENCH_DEFAULT],
        profiles: [repo('configs/profiles/sio-table-extended.yml')],
        overrides: [override],
        builtins,
      }).catch((e: unknown) => e);
    expect(String(await load('--bench.judge={args: {lrr: 0.03}}'))).toMatch(/bench\.judge.*lrr/s);
    const beside = await loadRun({
      files: [BENCH_DEFAULT],
      profiles: [repo('configs/profiles/sio-table.yml')],
      overrides: ['--bench.judge={args: {lr: 0.03}}'],
      builtins,
    }).catch((e: unknown) => e);
    expect(String(beside)).toMatch(/bench\.judge: bench\.judge applies only when bench\.trainers has no base entry/);
  });

  it('a variant whose sio keys do not validate is a config error naming it', async () => {
    const error = await loadRun({
      files: [BENCH_DEFAULT],
      profiles: [repo('configs/profiles/sio-ablation.yml')],
      overrides: ['--bench.variants=[baseline, {name: bad, sio: {real_ratio: 2}}]'],
      builtins,
    }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/bench\.variants\.1\.sio\.real_ratio/);
  });
});
