import { tf } from '@oodkit/compute';
import { Rng, type RngState } from '@oodkit/core';
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
import { TrunkClassifier, type TrunkOutput } from './base.js';

interface BasicBlock {
  readonly conv1: Conv;
  readonly bn1: BatchNorm;
  readonly conv2: Conv;
  readonly bn2: BatchNorm;
  readonly projection?: { conv: Conv; bn: BatchNorm };
}

function makeBasicBlock(
  store: ParameterStore,
  name: string,
  spec: { inPlanes: number; planes: number; stride: number; init: ConvInit; projectionName: string },
): BasicBlock {
  const { inPlanes, planes, stride, init } = spec;
  const block: BasicBlock = {
    conv1: makeConv(store, `${name}.conv1`, { inChannels: inPlanes, outChannels: planes, kernel: 3, stride, pad: 1, bias: false, init }),
    bn1: makeBatchNorm(store, `${name}.bn1`, planes),
    conv2: makeConv(store, `${name}.conv2`, { inChannels: planes, outChannels: planes, kernel: 3, pad: 1, bias: false, init }),
    bn2: makeBatchNorm(store, `${name}.bn2`, planes),
  };
  if (stride !== 1 || inPlanes !== planes) {
    const p = `${name}.${spec.projectionName}`;
    return {
      ...block,
      projection: {
        conv: makeConv(store, `${p}.0`, { inChannels: inPlanes, outChannels: planes, kernel: 1, stride, bias: false, init }),
        bn: makeBatchNorm(store, `${p}.1`, planes),
      },
    };
  }
  return block;
}

function basicBlock(x: tf.Tensor4D, b: BasicBlock, training: boolean): tf.Tensor4D {
  const out = convBatchNorm(convBatchNorm(x, b.conv1, b.bn1, training, { relu: true }), b.conv2, b.bn2, training);
  const shortcut = b.projection ? convBatchNorm(x, b.projection.conv, b.projection.bn, training) : x;
  return tf.relu(tf.add(out, shortcut)) as tf.Tensor4D;
}

export type ResNetStem = 'cifar' | 'imagenet';

export interface ResNet18Spec {
  readonly name: string;
  readonly numClasses: number;
  readonly imageSize: number;
  readonly inChannels: number;
  /** 'cifar': 3×3/1 conv, no max-pool. 'imagenet': 7×7/2 conv + 3×3/2 max-pool. */
  readonly stem: ResNetStem;
  readonly init: ConvInit;
  /** Name of the projection shortcut in the reference's state_dict ('shortcut' or 'downsample'). */
  readonly projectionName: string;
  /** Dropout on z in training mode (the reference 224 net uses 0.5). */
  readonly dropout: number;
}

const STAGES = [
  { planes: 64, stride: 1 },
  { planes: 128, stride: 2 },
  { planes: 256, stride: 2 },
  { planes: 512, stride: 2 },
] as const;

/** ResNet-18 (BasicBlock ×[2,2,2,2], 64..512 planes, global average pool, fc), PyTorch semantics. */
export class ResNet18 extends TrunkClassifier {
  readonly name: string;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly featureDim = 512;
  protected readonly fc: Linear;
  private readonly stemConv: Conv;
  private readonly stemBn: BatchNorm;
  private readonly layers: BasicBlock[][];
  private dropoutRng: Rng;

  constructor(
    private readonly spec: ResNet18Spec,
    rng: Rng,
  ) {
    super(new ParameterStore(rng.derive('init')));
    this.dropoutRng = rng.derive('dropout');
    this.name = spec.name;
    this.numClasses = spec.numClasses;
    this.inputShape = [spec.imageSize, spec.imageSize, spec.inChannels];
    const { init } = spec;
    this.stemConv =
      spec.stem === 'cifar'
        ? makeConv(this.store, 'conv1', { inChannels: spec.inChannels, outChannels: 64, kernel: 3, stride: 1, pad: 1, bias: false, init })
        : makeConv(this.store, 'conv1', { inChannels: spec.inChannels, outChannels: 64, kernel: 7, stride: 2, pad: 3, bias: false, init });
    this.stemBn = makeBatchNorm(this.store, 'bn1', 64);
    let inPlanes = 64;
    this.layers = STAGES.map((stage, s) => {
      const blocks = [0, 1].map((i) => {
        const block = makeBasicBlock(this.store, `layer${s + 1}.${i}`, {
          inPlanes,
          planes: stage.planes,
          stride: i === 0 ? stage.stride : 1,
          init,
          projectionName: spec.projectionName,
        });
        inPlanes = stage.planes;
        return block;
      });
      return blocks;
    });
    this.fc = makeLinear(this.store, 'fc', 512, spec.numClasses);
  }

  protected trunk(x: tf.Tensor4D, training: boolean): TrunkOutput {
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
    const blocks: tf.Tensor4D[] = [h];
    for (const layer of this.layers) {
      for (const block of layer) h = basicBlock(h, block, training);
      blocks.push(h);
    }
    const pooled = tf.mean(h, [1, 2], true) as tf.Tensor4D; // [N, 1, 1, 512]
    blocks[blocks.length - 1] = pooled;
    return { blocks, features: tf.reshape(pooled, [pooled.shape[0], 512]) };
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
