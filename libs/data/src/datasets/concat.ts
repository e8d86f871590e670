import { z } from 'zod';
import { defineComponent } from '@oodkit/core';
import { buildDataset, datasetSectionSchema } from './section.js';
import { ConcatDataset } from './views.js';

export const concatArgs = z.strictObject({
  datasets: z.array(datasetSectionSchema).min(1),
  name: z.string().optional(),
});

export const concatDataset = defineComponent({
  kind: 'dataset',
  name: 'concat',
  description: 'Several datasets one after another (same image shape and class count)',
  args: concatArgs,
  create: async (args, ctx) => {
    const parts = [];
    for (let i = 0; i < args.datasets.length; i++)
      parts.push(await buildDataset(args.datasets[i], ctx, `dataset.args.datasets.${i}`, `part-${i}`));
    return new ConcatDataset(args.name ?? parts.map((p) => p.name).join('+'), parts);
  },
});
