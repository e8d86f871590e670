import { describe, expect, it } from 'vitest';
import { ConfigError } from '@oodkit/core';
import { modelSourceOf } from '../src/index.js';

describe('modelSourceOf: exactly one of checkpoint / onnx / tfjs', () => {
  it('maps each source with its output names', () => {
    expect(modelSourceOf({ checkpoint: 'a.ckpt' })).toEqual({ kind: 'trained', checkpoint: 'a.ckpt' });
    expect(modelSourceOf({ onnx: 'm.onnx', features_output: 'z', threads: 2 })).toEqual({
      kind: 'onnx',
      path: 'm.onnx',
      featuresOutput: 'z',
      threads: 2,
    });
    expect(modelSourceOf({ tfjs: 'model.json', logits_output: 'fc' })).toEqual({ kind: 'tfjs', path: 'model.json', logitsOutput: 'fc' });
  });

  it('names the key of a missing, doubled or misplaced setting', () => {
    const issue = (args: Parameters<typeof modelSourceOf>[0]) => {
      try {
        modelSourceOf(args);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues[0];
      }
      throw new Error('no error');
    };
    expect(issue({})).toMatchObject({
      path: 'pipeline.args.checkpoint',
      message: expect.stringMatching(/one model source, checkpoint \(--checkpoint\), onnx/),
    });
    expect(issue({ onnx: 'm.onnx', tfjs: 'model.json' })).toMatchObject({
      path: 'pipeline.args.tfjs',
      message: 'one model source only, got onnx and tfjs',
    });
    expect(issue({ checkpoint: 'a.ckpt', features_output: 'z' })).toMatchObject({ path: 'pipeline.args.features_output' });
    expect(issue({ tfjs: 'model.json', threads: 2 })).toMatchObject({
      path: 'pipeline.args.threads',
      message: 'applies to an onnx model only',
    });
  });
});

describe("modelSourceOf with a stage's further sources (eval's feature folder)", () => {
  it('counts them in exactly one and names them when none is given', () => {
    const issue = (args: Parameters<typeof modelSourceOf>[0], extra: Record<string, string | undefined>) => {
      try {
        modelSourceOf(args, 'pipeline.args', extra);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues[0];
      }
      throw new Error('no error');
    };
    expect(issue({}, { features: undefined })).toMatchObject({
      message: expect.stringMatching(/or tfjs \(--tfjs\) or features \(--features\)$/),
    });
    expect(issue({ onnx: 'm.onnx' }, { features: 'feats' })).toMatchObject({
      path: 'pipeline.args.features',
      message: 'one model source only, got onnx and features',
    });
    expect(modelSourceOf({ onnx: 'm.onnx' }, 'pipeline.args', { features: undefined })).toEqual({ kind: 'onnx', path: 'm.onnx' });
  });
});
