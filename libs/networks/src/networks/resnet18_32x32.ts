import { defineComponent } from '@oodkit/core';
import { z } from 'zod';
import { RESNET_FEATURE_LAYERS, ResNet } from './resnet.js';
import { checkpointArgs, withCheckpoint } from '../checkpoint/pretrained.js';

export const resnet18_32x32Args = z.strictObject({
  ...checkpointArgs,
  num_classes: z.number().int().min(2).default(10),
  in_channels: z.number().int().min(1).default(3),
  /** Any size works (global average pool); 32 is the reference's. */
  image_size: z.number().int().min(8).default(32),
});

/**
 * OpenOOD's CIFAR ResNet-18: 3×3/1 stem, no max-pool, projection shortcuts named 'shortcut', PyTorch
 * default init (OpenOOD sets none: conv U(±1/√fan_in), BN 1/0, fc U(±1/√512)).
 */
export const resnet18_32x32 = defineComponent({
  kind: 'network',
  name: 'resnet18_32x32',
  description: "OpenOOD's CIFAR ResNet-18 (3×3 stem, no max-pool, z dim 512)",
  args: resnet18_32x32Args,
  featureLayers: RESNET_FEATURE_LAYERS,
  create: (args, ctx) =>
    withCheckpoint(
      args,
      ctx,
      (initialize) =>
        new ResNet(
          {
            name: 'resnet18_32x32',
            numClasses: args.num_classes,
            imageSize: args.image_size,
            inChannels: args.in_channels,
            stem: 'cifar',
            block: 'basic',
            layers: [2, 2, 2, 2],
            pool: 'global',
            init: 'torch_default',
            projectionName: 'shortcut',
            dropout: 0,
          },
          ctx.rng,
          { initialize },
        ),
    ),
});
