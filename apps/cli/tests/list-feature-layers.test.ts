import { describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureOutput } from './capture-output.js';

const io = captureOutput();

describe('oodkit list network / postprocessor: multi-layer information', { timeout: 60_000 }, () => {
  it('every network lists its feature layers', async () => {
    expect(await main(['list', 'network'])).toBe(0);
    expect(io.out).toMatch(/^ {2}lenet — [\s\S]*?feature layers: block1, block2, block3, penultimate$/m);
    expect(io.out).toMatch(/^ {2}resnet18_32x32 — [\s\S]*?feature layers: stem, layer1, layer2, layer3, layer4, penultimate$/m);
  });

  it('postprocessor --json marks the layerwise methods', async () => {
    expect(await main(['list', 'postprocessor', '--json'])).toBe(0);
    const listed = JSON.parse(io.out) as { components: { postprocessor: { name: string; layerwise?: boolean }[] } };
    const layerwise = listed.components.postprocessor.filter((c) => c.layerwise).map((c) => c.name);
    expect(layerwise).toEqual(['knn', 'mds', 'rmds']);
    expect(listed.components.postprocessor.map((c) => c.name)).toEqual(expect.arrayContaining(['dknn', 'mds_ensemble']));
  });
});
