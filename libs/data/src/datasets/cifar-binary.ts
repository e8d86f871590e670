import { basename } from 'node:path';
import { z } from 'zod';
import { defineComponent } from '@oodkit/core';
import { readCifarBinary } from '../formats/cifar.js';
import { dataDirOf, resolveDataPath } from '../util/fs.js';
import { MemoryDataset } from './base.js';

export const cifarBinaryArgs = z.strictObject({
  /** Binary batch files, e.g. data_batch_1.bin … data_batch_5.bin (CIFAR-10) or train.bin (CIFAR-100). */
  files: z.array(z.string().min(1)).min(1),
  variant: z.enum(['cifar10', 'cifar100']).default('cifar10'),
  /** CIFAR-100 only: fine (100 classes) or coarse (20 superclasses). */
  label: z.enum(['fine', 'coarse']).default('fine'),
  name: z.string().optional(),
});

export const cifarBinaryDataset = defineComponent({
  kind: 'dataset',
  name: 'cifar_binary',
  description: 'CIFAR-10/100 binary batches (label byte(s) + 3×1024 planes), as 32×32×3 RGB',
  args: cifarBinaryArgs,
  create: async (args, ctx) => {
    const base = dataDirOf(ctx.config);
    const files = args.files.map((f) => resolveDataPath(f, base));
    const { pixels, labels } = await readCifarBinary(files, args.variant, args.label);
    const numClasses = args.variant === 'cifar10' ? 10 : args.label === 'coarse' ? 20 : 100;
    return new MemoryDataset(
      args.name ?? `${args.variant}:${files.map((f) => basename(f)).join(',')}`,
      pixels,
      [32, 32, 3],
      numClasses,
      labels,
    );
  },
});
