import { defineComponent } from '@oodkit/core';
import { z } from 'zod';
import { RESNET_FEATURE_LAYERS, ResNet } from './resnet.js';
import { checkpointArgs, withCheckpoint } from '../checkpoint/pretrained.js';

export const resnet50Args = z.strictObject({
  ...checkpointArgs,
  num_classes: z.number().int().min(2).default(1000),
  in_channels: z.number().int().min(1).default(3),
  /** 224 is the reference's; any size ≥ 32 works (adaptive average pool). */
  image_size: z.number().int().min(32).default(224),
});

/**
 * OpenOOD's ImageNet ResNet-50 = torchvision's `resnet50` (layer names, v1.5 Bottleneck with the stride
 * on the 3×3 conv, 'downsample' projections): 7×7/2 stem + 3×3/2 max-pool, [3, 4, 6, 3] bottleneck
 * blocks, adaptive average pool, z dim 2048; conv init kaiming normal (fan_out), BN 1/0, fc PyTorch
 * default, as torchvision initialises it.
 */
export const resnet50 = defineComponent({
  kind: 'network',
  name: 'resnet50',
  description: "OpenOOD's / torchvision's ImageNet ResNet-50 (bottleneck blocks, z dim 2048)",
  args: resnet50Args,
  featureLayers: RESNET_FEATURE_LAYERS,
  create: (args, ctx) =>
    withCheckpoint(
      args,
      ctx,
      (initialize) =>
        new ResNet(
          {
            name: 'resnet50',
            numClasses: args.num_classes,
            imageSize: args.image_size,
            inChannels: args.in_channels,
            stem: 'imagenet',
            block: 'bottleneck',
            layers: [3, 4, 6, 3],
            pool: 'global',
            init: 'kaiming_normal_fan_out',
            projectionName: 'downsample',
            dropout: 0,
          },
          ctx.rng,
          { initialize },
        ),
    ),
});
