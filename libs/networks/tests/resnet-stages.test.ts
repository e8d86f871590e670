import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import type { ResNet18 } from '../src/index.js';
import { build, input, maxAbsDiff } from './helpers.js';

vi.setConfig({ testTimeout: 60_000 });

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

describe('resnet stages (RankFeat)', () => {
  it('resuming from any stage output reproduces the forward; stage maps are the blocks', async () => {
    const net = (await build('resnet18_32x32', { image_size: 8 })) as ResNet18;
    const x = input([2, 8, 8, 3]);
    const { logits, blocks } = net.forwardBlocks(x);
    for (const stage of [1, 2, 3, 4]) {
      const h = net.stageOutput(x, stage);
      if (stage < 4) expect(maxAbsDiff(h, blocks[stage]!)).toBe(0);
      expect(h.shape[3]).toBe([64, 128, 256, 512][stage - 1]);
      const resumed = net.forwardFromStage(stage, h);
      expect(maxAbsDiff(resumed, logits)).toBeLessThan(1e-5);
      tf.dispose([h, resumed]);
    }
    // an edited map changes the logits (the resume really runs from h)
    const h3 = net.stageOutput(x, 3);
    const zeroed = net.forwardFromStage(3, tf.zerosLike(h3));
    expect(maxAbsDiff(zeroed, logits)).toBeGreaterThan(1e-4);
    expect(() => net.stageOutput(x, 5)).toThrow(/has stages 1–4, got stage 5/);
    tf.dispose([x, logits, h3, zeroed, ...blocks]);
    net.dispose();
  });
});
