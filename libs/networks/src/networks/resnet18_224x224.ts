import { defineComponent } from '@oodkit/core';
import { z } from 'zod';
import { RESNET_FEATURE_LAYERS, ResNet } from './resnet.js';
import { checkpointArgs, withCheckpoint } from '../checkpoint/pretrained.js';

export const resnet18_224x224Args = z.strictObject({
  ...checkpointArgs,
  num_classes: z.number().int().min(2).default(200),
  in_channels: z.number().int().min(1).default(3),
  /** 224 is the reference's; smaller sizes work because pooling is global (equal to AvgPool(7) at 224). */
  image_size: z.number().int().min(32).default(224),
  /** Dropout on z in training mode. OpenOOD v1.5's net (torchvision's ResNet) has none; pre-1.5 OpenOOD used 0.5. */
  dropout: z.number().min(0).max(0.95).default(0),
});

/**
 * OpenOOD v1.5's ImageNet ResNet-18 = torchvision's `resnet18` (layer names included): 7×7/2 stem +
 * 3×3/2 max-pool, 'downsample' shortcuts, adaptive average pool, conv init N(0, 2/(k²·out)) (kaiming
 * normal, fan_out), BN 1/0, fc PyTorch default.
 */
export const resnet18_224x224 = defineComponent({
  kind: 'network',
  name: 'resnet18_224x224',
  description: "OpenOOD's ImageNet-style ResNet-18 (7×7/2 stem + max-pool, z dim 512)",
  args: resnet18_224x224Args,
  featureLayers: RESNET_FEATURE_LAYERS,
  create: (args, ctx) =>
    withCheckpoint(
      args,
      ctx,
      (initialize) =>
        new ResNet(
          {
            name: 'resnet18_224x224',
            numClasses: args.num_classes,
            imageSize: args.image_size,
            inChannels: args.in_channels,
            stem: 'imagenet',
            block: 'basic',
            layers: [2, 2, 2, 2],
            pool: 'global',
            init: 'kaiming_normal_fan_out',
            projectionName: 'downsample',
            dropout: args.dropout,
          },
          ctx.rng,
          { initialize },
        ),
    ),
});
