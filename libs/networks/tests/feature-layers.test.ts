import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { featureLayersOf, lenet, resnet18_32x32, resnet50, resnet18_64x64, resnet18_224x224 } from '../src/index.js';
import { build, input } from './helpers.js';

vi.setConfig({ testTimeout: 60_000 });

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

describe('feature layers by name (OpenOOD return_feature_list)', () => {
  it('every network definition lists its blocks and penultimate', () => {
    expect(lenet.featureLayers).toEqual(['block1', 'block2', 'block3', 'penultimate']);
    for (const def of [resnet18_32x32, resnet18_64x64, resnet18_224x224, resnet50]) {
      expect(def.featureLayers).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'penultimate']);
    }
  });

  it('a built network names exactly the blocks forwardBlocks returns', async () => {
    for (const [name, args, shape] of [
      ['lenet', {}, [2, 28, 28, 1]],
      ['resnet18_32x32', { image_size: 16 }, [2, 16, 16, 3]],
    ] as const) {
      const net = await build(name, args);
      const x = input([...shape]);
      const out = net.forwardBlocks(x);
      expect(net.blockNames!.length).toBe(out.blocks.length);
      expect(featureLayersOf(net)).toEqual((name === 'lenet' ? lenet : resnet18_32x32).featureLayers);
      // ResNet's layer4 entry is the pooled map, i.e. z itself (as in OpenOOD's list)
      if (name === 'resnet18_32x32') {
        const last = out.blocks[out.blocks.length - 1]!;
        expect(last.shape).toEqual([2, 1, 1, 512]);
        expect(Array.from(last.dataSync())).toEqual(Array.from(out.features.dataSync()));
      }
      tf.dispose([x, out.logits, out.features, ...out.blocks]);
      net.dispose();
    }
  });

  it("wrapper networks name their backbone's blocks (forwardBlocks returns the backbone's)", async () => {
    for (const name of ['conf_branch_net', 'rot_net', 'cider_net', 't2fnorm_net', 'npos_net', 'godin_net']) {
      const net = await build(name, { backbone: { name: 'lenet' } });
      const x = input([2, 28, 28, 1]);
      const out = net.forwardBlocks(x);
      expect(featureLayersOf(net), name).toEqual(lenet.featureLayers);
      expect(out.blocks.length, name).toBe(net.blockNames!.length);
      tf.dispose([x, out.logits, out.features, ...out.blocks]);
      net.dispose();
    }
  });
});
