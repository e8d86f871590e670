import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError, Rng, writeNpy } from '@oodkit/core';
import { FeatureFolder, parseFeatureSplits, standardSyntheticLayout, syntheticFeatures, writeFeatureFolder } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'oodkit-ff-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

async function writeSmall(): Promise<{ dir: string; data: ReturnType<typeof syntheticFeatures> }> {
  const dir = join(root, `f${counter++}`);
  const { spec, roles } = standardSyntheticLayout(0.1);
  const data = syntheticFeatures(Rng.fromSeed(1), { numClasses: 3, featureDim: 4, ...spec });
  await writeFeatureFolder(dir, { finalLayer: data.finalLayer, splits: data.splits, roles });
  return { dir, data };
}

describe('feature folder round trip', () => {
  it('reads back what writeFeatureFolder wrote, OOD labels as −1', async () => {
    const { dir, data } = await writeSmall();
    const folder = await FeatureFolder.open(dir);
    expect(folder.numClasses).toBe(3);
    expect(folder.featureDim).toBe(4);
    expect(folder.finalLayer.weight).toEqual(data.finalLayer.weight);
    expect(folder.splits).toEqual({
      train: 'train',
      val: 'val',
      test: 'test',
      ood_val: 'oodval',
      near: ['nearset'],
      far: ['farset'],
      csid: [],
    });
    const test = await folder.split('test');
    const original = data.splits.find((s) => s.name === 'test')!;
    expect(test.features).toEqual(original.features);
    expect(test.labels).toEqual(original.labels);
    expect([...new Set((await folder.split('farset')).labels)]).toEqual([-1]);
  });

  it('accepts float64 features and int64 labels as NumPy writes them', async () => {
    const { dir } = await writeSmall();
    await writeNpy(join(dir, 'test_features.npy'), { data: new Float64Array(8).fill(0.5), shape: [2, 4] });
    await writeNpy(join(dir, 'test_labels.npy'), { data: new BigInt64Array([0n, 2n]) });
    const split = await (await FeatureFolder.open(dir)).split('test');
    expect(split.count).toBe(2);
    expect([...split.labels]).toEqual([0, 2]);
    expect(split.features).toBeInstanceOf(Float32Array);
  });
});

describe('feature folder bad input', () => {
  it('mismatched feature dimension names the file and expected shape', async () => {
    const { dir } = await writeSmall();
    await writeNpy(join(dir, 'farset_features.npy'), { data: new Float32Array(20), shape: [4, 5] });
    await writeNpy(join(dir, 'farset_labels.npy'), { data: new Int32Array(4).fill(-1) });
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/farset_features\.npy: shape \[4, 5\], expected \[N, 4\]/);
  });

  it('labels count different from feature rows', async () => {
    const { dir } = await writeSmall();
    await writeNpy(join(dir, 'test_labels.npy'), { data: new Int32Array(7) });
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/test_labels\.npy: shape \[7\], expected \[30\]/);
  });

  it('bias length different from C', async () => {
    const { dir } = await writeSmall();
    await writeNpy(join(dir, 'fc_bias.npy'), { data: new Float32Array(5) });
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/fc_bias\.npy: shape \[5\], expected \[3\]/);
  });

  it('NaN and Inf features name file, row and column', async () => {
    const { dir } = await writeSmall();
    const bad = new Float32Array(8).fill(1);
    bad[6] = NaN;
    await writeNpy(join(dir, 'val_features.npy'), { data: bad, shape: [2, 4] });
    await writeNpy(join(dir, 'val_labels.npy'), { data: new Int32Array([0, 1]) });
    const folder = await FeatureFolder.open(dir);
    await expect(folder.split('val')).rejects.toThrow(DataError);
    await expect(folder.split('val')).rejects.toThrow(/val_features\.npy: NaN at row 1, column 2; features must be finite/);
    bad[6] = Infinity;
    await writeNpy(join(dir, 'val_features.npy'), { data: bad, shape: [2, 4] });
    await expect(folder.split('val')).rejects.toThrow(/Infinity at row 1, column 2/);
  });

  it('empty split', async () => {
    const { dir } = await writeSmall();
    await writeNpy(join(dir, 'nearset_features.npy'), { data: new Float32Array(0), shape: [0, 4] });
    await writeNpy(join(dir, 'nearset_labels.npy'), { data: new Int32Array(0) });
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/nearset_features\.npy: split 'nearset' is empty \(0 rows\)/);
  });

  it('ID labels outside [0, C) and float labels', async () => {
    const { dir } = await writeSmall();
    await writeNpy(join(dir, 'test_labels.npy'), { data: new Int32Array(30).fill(-1) });
    await expect((await FeatureFolder.open(dir)).split('test')).rejects.toThrow(
      /label -1 at index 0 of ID split 'test' is outside \[0, 3\)/,
    );
    await writeNpy(join(dir, 'test_labels.npy'), { data: new Float32Array(30) });
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/test_labels\.npy: dtype float32, expected an integer dtype/);
  });

  it('missing files and folders', async () => {
    const { dir } = await writeSmall();
    rmSync(join(dir, 'farset_labels.npy'));
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/farset_labels\.npy: missing \(split 'farset' is named in splits\.yml\)/);
    await expect(FeatureFolder.open(join(root, 'nowhere'))).rejects.toThrow(/not a feature folder \(no splits\.yml\)/);
  });

  it('splits.yml: unknown keys, missing test, bad names, no OOD set', () => {
    expect(() => parseFeatureSplits('test: t\nnaer: [a]\n', 'S.yml')).toThrow(ConfigError);
    expect(() => parseFeatureSplits('test: t\nnaer: [a]\n', 'S.yml')).toThrow(/S\.yml: naer: unknown key 'naer' \(did you mean 'near'\?\)/);
    expect(() => parseFeatureSplits('near: [a]\n', 'S.yml')).toThrow(/S\.yml: test:/);
    expect(() => parseFeatureSplits('test: ../x\nnear: [a]\n', 'S.yml')).toThrow(/file-name safe/);
    expect(() => parseFeatureSplits('test: t\n', 'S.yml')).toThrow(/no OOD split/);
    expect(() => parseFeatureSplits('test: [t\n', 'S.yml')).toThrow(/not valid YAML/);
  });

  it('writeFeatureFolder refuses inconsistent input before writing anything', async () => {
    const dir = join(root, 'never');
    await expect(
      writeFeatureFolder(dir, {
        finalLayer: { numClasses: 2, featureDim: 3, weight: new Float32Array(6), bias: new Float32Array(2) },
        splits: [{ name: 'test', features: new Float32Array(5), labels: new Int32Array(2) }],
        roles: { test: 'test', near: ['o'] },
      }),
    ).rejects.toThrow(/split 'o' is named in the roles but not given/);
    writeFileSync(join(root, 'marker'), '');
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/not a feature folder/);
  });
});
