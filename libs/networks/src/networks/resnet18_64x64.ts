import { defineComponent } from '@oodkit/core';
import { z } from 'zod';
import { RESNET_FEATURE_LAYERS, ResNet } from './resnet.js';
import { checkpointArgs, withCheckpoint } from '../checkpoint/pretrained.js';

export const resnet18_64x64Args = z.strictObject({
  ...checkpointArgs,
  num_classes: z.number().int().min(2).default(200),
  in_channels: z.number().int().min(1).default(3),
  /** 64 is the reference's; AvgPool2d(8) gives a 1×1 map for 57–120 px. */
  image_size: z.number().int().min(57).max(120).default(64),
});

/**
 * OpenOOD's Tiny-ImageNet-size ResNet-18: the 32×32 net's layers and names ('shortcut' projections,
 * 3×3/1 stem, no max-pool, PyTorch default init) with AvgPool2d(8) instead of a global pool.
 */
export const resnet18_64x64 = defineComponent({
  kind: 'network',
  name: 'resnet18_64x64',
  description: "OpenOOD's 64×64 ResNet-18 (3×3 stem, no max-pool, AvgPool2d(8), z dim 512)",
  args: resnet18_64x64Args,
  featureLayers: RESNET_FEATURE_LAYERS,
  create: (args, ctx) =>
    withCheckpoint(
      args,
      ctx,
      (initialize) =>
        new ResNet(
          {
            name: 'resnet18_64x64',
            numClasses: args.num_classes,
            imageSize: args.image_size,
            inChannels: args.in_channels,
            stem: 'cifar',
            block: 'basic',
            layers: [2, 2, 2, 2],
            pool: 'avgpool8',
            init: 'torch_default',
            projectionName: 'shortcut',
            dropout: 0,
          },
          ctx.rng,
          { initialize },
        ),
    ),
});
