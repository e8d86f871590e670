import { describe, expect, it, beforeAll } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { ConfigError, Rng } from '@oodkit/core';
import { MemoryDataset, plainStream, type Preprocessor } from '@oodkit/data';
import { parseSioConfig, sioStream } from '../src/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** Real images are all 10, synthetic ones all 200: after preprocessing each sample reveals its source. */
function sources(realCount: number, synCount: number) {
  const real = new MemoryDataset(
    'real',
    new Uint8Array(realCount * 4).fill(10),
    [2, 2, 1],
    2,
    Int32Array.from({ length: realCount }, (_, i) => i % 2),
  );
  const syn = new MemoryDataset(
    'syn',
    new Uint8Array(synCount * 4).fill(200),
    [2, 2, 1],
    2,
    Int32Array.from({ length: synCount }, (_, i) => (i + 1) % 2),
  );
  return { real, syn };
}

/** No chain: the loader scales uint8 to [0, 1]. */
const scale: readonly Preprocessor[] = [];

describe('sioStream', () => {
  it('batches hold realBs real and synBs synthetic samples, all preprocessed the same way', async () => {
    const { real, syn } = sources(50, 40);
    const stream = sioStream({
      real,
      synthetic: syn,
      sio: { real_ratio: 0.8, extra_percent: 100, mode: 'faithful' },
      batchSize: 10,
      preprocess: scale,
      rng: Rng.fromSeed(3),
    });
    expect(stream.stepsPerEpoch).toBe(5);
    let steps = 0;
    for await (const b of stream.batches(0, stream.epochIndices(0))) {
      steps++;
      const x = (await b.x.data()) as Float32Array;
      const y = (await b.y.data()) as Int32Array;
      let nReal = 0;
      for (let i = 0; i < b.indices.length; i++) {
        const isSyn = b.indices[i]! >= 50;
        if (!isSyn) nReal++;
        // the same preprocessing reached both sources
        for (let p = 0; p < 4; p++) expect(x[i * 4 + p]).toBeCloseTo((isSyn ? 200 : 10) / 255, 6);
        expect(y[i]).toBe(isSyn ? (b.indices[i]! - 50 + 1) % 2 : b.indices[i]! % 2);
      }
      expect(nReal).toBe(8);
      expect(b.indices.length - nReal).toBe(2);
      b.x.dispose();
      b.y.dispose();
    }
    expect(steps).toBe(5);
  });

  it('real_ratio 0 is a valid sio setting and streams only synthetic samples', () => {
    const sio = parseSioConfig({ real_ratio: 0, synthetic: { images: 'a.npy', labels: 'b.npy' } })!;
    expect(sio.real_ratio).toBe(0);
    const { real, syn } = sources(50, 60);
    const stream = sioStream({ real, synthetic: syn, sio, batchSize: 10, preprocess: scale, rng: Rng.fromSeed(3) });
    expect(stream.describe()).toMatch(/batch 10 = 0 real \+ 10 synthetic, 5 steps\/epoch/);
    for (const b of stream.epochIndices(0)) expect([...b.indices].every((i) => i >= 50)).toBe(true);
    expect(() => parseSioConfig({ real_ratio: -0.1, synthetic: { images: 'a.npy', labels: 'b.npy' } })).toThrow(/sio\.real_ratio/);
  });

  it('runs short of synthetic samples when S < steps × synBs (no wrap-around)', () => {
    const { real, syn } = sources(50, 3);
    const stream = sioStream({
      real,
      synthetic: syn,
      sio: { real_ratio: 0.8, extra_percent: 100, mode: 'faithful' },
      batchSize: 10,
      preprocess: scale,
      rng: Rng.fromSeed(3),
    });
    const synPerBatch = stream.epochIndices(0).map((b) => b.synCount);
    expect(synPerBatch).toEqual([2, 1, 0, 0, 0]);
  });

  it('ratio 1 with no synthetic samples draws the same batches as the plain stream', () => {
    const { real, syn } = sources(23, 0);
    const a = sioStream({
      real,
      synthetic: syn,
      sio: { real_ratio: 1, extra_percent: 100, mode: 'faithful' },
      batchSize: 5,
      preprocess: scale,
      rng: Rng.fromSeed(9),
    });
    const b = plainStream({ dataset: real, batchSize: 5, preprocess: scale, rng: Rng.fromSeed(9) });
    expect(a.epochIndices(2).map((x) => Array.from(x.indices))).toEqual(b.epochIndices(2).map((x) => Array.from(x.indices)));
    expect(b.epochIndices(0).map((x) => x.indices.length)).toEqual([5, 5, 5, 5, 3]);
  });
});

describe('parseSioConfig', () => {
  it('fills the paper defaults and accepts both synthetic sources', () => {
    expect(parseSioConfig({ synthetic: { images: 'a.npy', labels: 'b.npy' } })).toEqual({
      enabled: true,
      real_ratio: 0.8,
      extra_percent: 100,
      mode: 'faithful',
      resize: false,
      synthetic: { images: 'a.npy', labels: 'b.npy' },
    });
    expect(parseSioConfig({ real_ratio: 0.9, synthetic: { name: 'cdcgan', count: 100 } })?.synthetic).toEqual({
      name: 'cdcgan',
      count: 100,
    });
    expect(parseSioConfig(undefined)).toBeUndefined();
    expect(parseSioConfig({ enabled: false })).toBeUndefined();
  });

  it('reports bad keys and values with their paths', () => {
    expect(() => parseSioConfig({ real_ratio: 1.5, synthetic: { images: 'a.npy', labels: 'b.npy' } })).toThrow(/sio\.real_ratio/);
    expect(() => parseSioConfig({ synthetic: { name: 'x', count: -1 } })).toThrow(/sio\.synthetic\.count/);
    expect(() => parseSioConfig({ synthetic: { images: 'a.npy', label: 'b.npy' } })).toThrow(ConfigError);
    expect(() => parseSioConfig({ synthetic: { images: 'a.npy', label: 'b.npy' } })).toThrow(/unknown key 'label'.*labels/);
  });
});
