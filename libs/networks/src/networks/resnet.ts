import { tf } from '@oodkit/compute';
import { ConfigError, Rng, UsageError, type RngState } from '@oodkit/core';
import { ParameterStore } from '../layers/params.js';
import {
  convBatchNorm,
  makeBatchNorm,
  makeConv,
  makeLinear,
  type BatchNorm,
  type Conv,
  type ConvInit,
  type Linear,
} from '../layers/ops.js';
import { featureLayersOf } from '@oodkit/core';
import { TrunkClassifier, type TrunkOutput } from './base.js';

/** A residual block: convs with batch norm, optional projection shortcut (conv 1×1 + BN). */
interface Block {
  readonly convs: readonly { conv: Conv; bn: BatchNorm }[];
  readonly projection?: { conv: Conv; bn: BatchNorm };
}

/** 'basic': two 3×3 convs (ResNet-18/34). 'bottleneck': 1×1, 3×3 (stride here, torchvision's v1.5), 1×1 ×4. */
export type ResNetBlock = 'basic' | 'bottleneck';

const EXPANSION: Readonly<Record<ResNetBlock, number>> = { basic: 1, bottleneck: 4 };

function makeBlock(
  store: ParameterStore,
  name: string,
  spec: { kind: ResNetBlock; inPlanes: number; planes: number; stride: number; init: ConvInit; projectionName: string },
): Block {
  const { kind, inPlanes, planes, stride, init } = spec;
  const conv = (i: number, inC: number, outC: number, kernel: number, s: number) => ({
    conv: makeConv(store, `${name}.conv${i}`, {
      inChannels: inC,
      outChannels: outC,
      kernel,
      stride: s,
      pad: kernel === 3 ? 1 : 0,
      bias: false,
      init,
    }),
    bn: makeBatchNorm(store, `${name}.bn${i}`, outC),
  });
  const outPlanes = planes * EXPANSION[kind];
  const convs =
    kind === 'basic'
      ? [conv(1, inPlanes, planes, 3, stride), conv(2, planes, planes, 3, 1)]
      : [conv(1, inPlanes, planes, 1, 1), conv(2, planes, planes, 3, stride), conv(3, planes, outPlanes, 1, 1)];
  if (stride === 1 && inPlanes === outPlanes) return { convs };
  const p = `${name}.${spec.projectionName}`;
  return {
    convs,
    projection: {
      conv: makeConv(store, `${p}.0`, { inChannels: inPlanes, outChannels: outPlanes, kernel: 1, stride, bias: false, init }),
      bn: makeBatchNorm(store, `${p}.1`, outPlanes),
    },
  };
}

/** relu(convs(x) + shortcut(x)), every conv but the last followed by ReLU. */
function block(x: tf.Tensor4D, b: Block, training: boolean): tf.Tensor4D {
  let out = x;
  b.convs.forEach(({ conv, bn }, i) => {
    out = convBatchNorm(out, conv, bn, training, { relu: i < b.convs.length - 1 });
  });
  const shortcut = b.projection ? convBatchNorm(x, b.projection.conv, b.projection.bn, training) : x;
  return tf.relu(tf.add(out, shortcut)) as tf.Tensor4D;
}

export type ResNetStem = 'cifar' | 'imagenet';

/**
 * 'global': adaptive average pool to 1×1 (torchvision, OpenOOD's 32×32 net). 'avgpool8':
 * AvgPool2d(8) as OpenOOD's 64×64 net has it — only the top-left 8×8 window of the last map, so that
 * map must be 8–15 px wide for a 1×1 result (input 57–120 px).
 */
export type ResNetPool = 'global' | 'avgpool8';

export interface ResNetSpec {
  readonly name: string;
  readonly numClasses: number;
  readonly imageSize: number;
  readonly inChannels: number;
  /** 'cifar': 3×3/1 conv, no max-pool. 'imagenet': 7×7/2 conv + 3×3/2 max-pool. */
  readonly stem: ResNetStem;
  readonly block: ResNetBlock;
  /** Blocks per stage, e.g. [2, 2, 2, 2] (ResNet-18) or [3, 4, 6, 3] (ResNet-50). */
  readonly layers: readonly [number, number, number, number];
  readonly pool: ResNetPool;
  readonly init: ConvInit;
  /** Name of the projection shortcut in the reference's state_dict ('shortcut' or 'downsample'). */
  readonly projectionName: string;
  /** Dropout on z in training mode (none of OpenOOD v1.5's ResNets has one; kept as an option). */
  readonly dropout: number;
}

/** Older name of `ResNetSpec`, kept for existing imports. */
export type ResNet18Spec = ResNetSpec;

const PLANES = [64, 128, 256, 512] as const;

/**
 * OpenOOD's `return_feature_list` of its ResNets: the stem (after ReLU, and the max-pool of the
 * ImageNet stem), then each stage; layer4 is pooled to [N, 1, 1, D] as the reference's list holds it.
 */
export const RESNET_BLOCKS = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'] as const;

/** Feature layers of every ResNet: RESNET_BLOCKS and 'penultimate'. */
export const RESNET_FEATURE_LAYERS = featureLayersOf({ blockNames: RESNET_BLOCKS });

/** Side of the last feature map for input side `size` (each stride-2 3×3/pad 1 or 1×1 halves, rounding up). */
export function lastMapSize(size: number, stem: ResNetStem): number {
  let s = stem === 'cifar' ? size : Math.floor((size + 6 - 7) / 2) + 1; // 7×7/2 pad 3
  if (stem === 'imagenet') s = Math.floor((s + 2 - 3) / 2) + 1; // 3×3/2 max-pool pad 1
  for (let i = 0; i < 3; i++) s = Math.floor((s - 1) / 2) + 1;
  return s;
}

/** ResNet with PyTorch semantics: BasicBlock or Bottleneck stages of 64..512 planes, pool, fc. */
export class ResNet extends TrunkClassifier {
  readonly name: string;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly featureDim: number;
  readonly blockNames = RESNET_BLOCKS;
  protected readonly fc: Linear;
  private readonly stemConv: Conv;
  private readonly stemBn: BatchNorm;
  private readonly stages: Block[][];
  private dropoutRng: Rng;

  constructor(
    private readonly spec: ResNetSpec,
    rng: Rng,
    options: { initialize?: boolean } = {},
  ) {
    super(new ParameterStore(rng.derive('init'), options));
    if (spec.pool === 'avgpool8') {
      const last = lastMapSize(spec.imageSize, spec.stem);
      if (last < 8 || last > 15) {
        throw new ConfigError([
          {
            path: 'network.args.image_size',
            message: `${spec.name} pools with AvgPool2d(8), which needs a last feature map of 8–15 px; image_size ${spec.imageSize} gives ${last} px (use 57–120, e.g. 64)`,
          },
        ]);
      }
    }
    this.dropoutRng = rng.derive('dropout');
    this.name = spec.name;
    this.numClasses = spec.numClasses;
    this.inputShape = [spec.imageSize, spec.imageSize, spec.inChannels];
    this.featureDim = 512 * EXPANSION[spec.block];
    const { init } = spec;
    this.stemConv =
      spec.stem === 'cifar'
        ? makeConv(this.store, 'conv1', { inChannels: spec.inChannels, outChannels: 64, kernel: 3, stride: 1, pad: 1, bias: false, init })
        : makeConv(this.store, 'conv1', { inChannels: spec.inChannels, outChannels: 64, kernel: 7, stride: 2, pad: 3, bias: false, init });
    this.store.annotate('conv1.weight', { name: 'in_channels', axis: 1 });
    this.stemBn = makeBatchNorm(this.store, 'bn1', 64);
    let inPlanes = 64;
    this.stages = PLANES.map((planes, s) =>
      Array.from({ length: spec.layers[s] }, (_, i) => {
        const b = makeBlock(this.store, `layer${s + 1}.${i}`, {
          kind: spec.block,
          inPlanes,
          planes,
          stride: i === 0 && s > 0 ? 2 : 1,
          init,
          projectionName: spec.projectionName,
        });
        inPlanes = planes * EXPANSION[spec.block];
        return b;
      }),
    );
    this.fc = makeLinear(this.store, 'fc', this.featureDim, spec.numClasses);
    this.store.annotate('fc.weight', { name: 'num_classes', axis: 0 });
  }

  protected trunk(x: tf.Tensor4D, training: boolean): TrunkOutput {
    let h = this.stem(x, training);
    const blocks: tf.Tensor4D[] = [h];
    for (const stage of this.stages) {
      for (const b of stage) h = block(h, b, training);
      blocks.push(h);
    }
    const pooled = this.pool(h);
    blocks[blocks.length - 1] = pooled;
    return { blocks, features: tf.reshape(pooled, [pooled.shape[0], this.featureDim]) };
  }

  /** Unpooled output of residual stage `stage` (1–4), in inference mode: OpenOOD's `intermediate_forward(x, layer_index)`. */
  stageOutput(x: tf.Tensor4D, stage: number): tf.Tensor4D {
    this.checkInput(x);
    this.checkStage(stage);
    return tf.tidy(() => {
      let h = this.stem(x, false);
      for (let s = 0; s < stage; s++) for (const b of this.stages[s]!) h = block(h, b, false);
      return h;
    });
  }

  /** Logits when the forward continues from `h`, a (possibly edited) output of stage `stage`: later stages, pool, fc. */
  forwardFromStage(stage: number, h: tf.Tensor4D): tf.Tensor2D {
    this.checkStage(stage);
    return tf.tidy(() => {
      let out = h;
      for (let s = stage; s < this.stages.length; s++) for (const b of this.stages[s]!) out = block(out, b, false);
      const pooled = this.pool(out);
      return this.head(tf.reshape(pooled, [pooled.shape[0], this.featureDim]) as tf.Tensor2D);
    });
  }

  private checkStage(stage: number): void {
    if (!Number.isInteger(stage) || stage < 1 || stage > this.stages.length) {
      throw new UsageError(`network '${this.name}' has stages 1–${this.stages.length}, got stage ${stage}`);
    }
  }

  private pool(h: tf.Tensor4D): tf.Tensor4D {
    return (this.spec.pool === 'global' ? tf.mean(h, [1, 2], true) : tf.avgPool(h, 8, 8, 'valid')) as tf.Tensor4D; // [N, 1, 1, D]
  }

  private stem(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    let h = convBatchNorm(x, this.stemConv, this.stemBn, training, { relu: true });
    if (this.spec.stem === 'imagenet') {
      // PyTorch pads the max-pool with -inf on both sides; after ReLU every value is ≥ 0, so zero
      // padding gives the same maxima (tfjs 'same' would pad only bottom/right for even sizes).
      h = tf.maxPool(
        tf.pad(h, [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ]),
        3,
        2,
        'valid',
      );
    }
    return h;
  }

  protected override regularizeFeatures(features: tf.Tensor2D, training: boolean): tf.Tensor2D {
    if (!training || this.spec.dropout === 0) return features;
    return tf.dropout(features, this.spec.dropout, undefined, this.dropoutRng.nextSeed()) as tf.Tensor2D;
  }

  /** State of the dropout stream, so a resumed run draws the same masks. */
  getRandomState(): RngState {
    return this.dropoutRng.getState();
  }

  setRandomState(state: RngState): void {
    this.dropoutRng = Rng.fromState(state);
  }
}

/** Older name of `ResNet` (which builds every depth), kept for existing imports. */
export const ResNet18 = ResNet;
export type ResNet18 = ResNet;
