import { tf } from '@oodkit/compute';
import { defineComponent, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { ParameterStore } from '../layers/params.js';
import { conv2d, linear, makeConv, makeLinear, type Conv, type Linear } from '../layers/ops.js';
import { featureLayersOf } from '@oodkit/core';
import { TrunkClassifier, type TrunkOutput } from './base.js';
import { checkpointArgs, withCheckpoint } from '../checkpoint/pretrained.js';

export const lenetArgs = z.strictObject({
  ...checkpointArgs,
  num_classes: z.number().int().min(2).default(10),
  /** OpenOOD's LeNet takes 3 (its preprocessing converts MNIST to RGB); oodkit's embedded MNIST benchmark feeds 1. */
  in_channels: z.number().int().min(1).default(1),
});
export type LeNetArgs = z.infer<typeof lenetArgs>;

/**
 * OpenOOD's LeNet for 28×28 inputs, with its state_dict names: block1 = conv5(pad 2)→6, relu, pool2;
 * block2 = conv5→16, relu, pool2; block3 = conv5→120, relu; classifier1 = fc 120→84, relu; fc = 84→C.
 * PyTorch default init throughout (OpenOOD sets none). z is the 84-dim input of `fc`, as OpenOOD's
 * `return_feature` gives it.
 */
export class LeNet extends TrunkClassifier {
  readonly name = 'lenet';
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly featureDim = 84;
  /** OpenOOD's list is [block1, block2, block3 (flattened), z]; block3 is [N, 1, 1, 120] here. */
  readonly blockNames = LENET_BLOCKS;
  protected readonly fc: Linear;
  private readonly conv1: Conv;
  private readonly conv2: Conv;
  private readonly conv3: Conv;
  private readonly classifier1: Linear;

  constructor(args: Pick<LeNetArgs, 'num_classes' | 'in_channels'>, rng: Rng, options: { initialize?: boolean } = {}) {
    super(new ParameterStore(rng, options));
    this.numClasses = args.num_classes;
    this.inputShape = [28, 28, args.in_channels];
    const init = 'torch_default' as const;
    this.conv1 = makeConv(this.store, 'block1.0', { inChannels: args.in_channels, outChannels: 6, kernel: 5, pad: 2, bias: true, init });
    this.conv2 = makeConv(this.store, 'block2.0', { inChannels: 6, outChannels: 16, kernel: 5, bias: true, init });
    this.conv3 = makeConv(this.store, 'block3.0', { inChannels: 16, outChannels: 120, kernel: 5, bias: true, init });
    this.classifier1 = makeLinear(this.store, 'classifier1', 120, 84);
    this.fc = makeLinear(this.store, 'fc', 84, args.num_classes);
    this.store.annotate('block1.0.weight', { name: 'in_channels', axis: 1 });
    this.store.annotate('fc.weight', { name: 'num_classes', axis: 0 });
  }

  protected trunk(x: tf.Tensor4D): TrunkOutput {
    const b1 = tf.maxPool(conv2d(x, this.conv1, { relu: true }), 2, 2, 'valid');
    const b2 = tf.maxPool(conv2d(b1, this.conv2, { relu: true }), 2, 2, 'valid');
    const b3 = conv2d(b2, this.conv3, { relu: true }); // [N, 1, 1, 120]
    const features = tf.relu(linear(tf.reshape(b3, [b3.shape[0], 120]), this.classifier1));
    return { blocks: [b1, b2, b3], features };
  }
}

export const LENET_BLOCKS = ['block1', 'block2', 'block3'] as const;

export const lenet = defineComponent({
  kind: 'network',
  name: 'lenet',
  description: "OpenOOD's LeNet for 28×28 images (z dim 84)",
  args: lenetArgs,
  featureLayers: featureLayersOf({ blockNames: LENET_BLOCKS }),
  create: (args, ctx) => withCheckpoint(args, ctx, (initialize) => new LeNet(args, ctx.rng.derive('init'), { initialize })),
});
