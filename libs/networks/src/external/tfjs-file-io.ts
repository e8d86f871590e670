import { mkdir, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { tf } from '@oodkit/compute';
import { DataError, UsageError, writeFileAtomic } from '@oodkit/core';

/** The weights file `fileModelIO(...).save` writes next to model.json. */
const WEIGHTS_FILE = 'weights.bin';

/**
 * A tfjs IOHandler on the local file system: `load` reads `model.json` and the weight shards its
 * manifest lists (paths relative to model.json's folder, which they may not leave), `save` writes
 * model.json + weights.bin atomically. tfjs-node's file:// handler needs its native binding, and the
 * pure-JS tfjs ships only browser and HTTP handlers; this one makes no network call.
 */
export function fileModelIO(modelJson: string): tf.io.IOHandler {
  const file = resolve(modelJson);
  const dir = dirname(file);
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new UsageError(`--tfjs: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(text) as tf.io.ModelJSON;
      } catch (error) {
        throw new DataError(`${file}: not JSON (${(error as Error).message}); expected a tfjs model.json`);
      }
      if (typeof json !== 'object' || json === null || json.modelTopology === undefined)
        throw new DataError(`${file}: no 'modelTopology'; expected a tfjs model.json (LayersModel or GraphModel)`);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const shard = resolve(dir, path);
            if (isAbsolute(path) || !(shard === dir || shard.startsWith(dir + sep)))
              throw new DataError(`${file}: weight shard '${path}' lies outside the model folder`);
            let bytes: Buffer;
            try {
              bytes = await readFile(shard);
            } catch {
              throw new DataError(`${file}: weight shard '${path}' listed in weightsManifest cannot be read (${shard})`);
            }
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new UsageError('fileModelIO: binary model topologies are not supported');
      const weightData = artifacts.weightData ? new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData)) : new Uint8Array(0);
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.signature ? { signature: artifacts.signature } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await mkdir(dir, { recursive: true });
      // Weights first: a model.json never points at a missing or partial weights file.
      await writeFileAtomic(join(dir, WEIGHTS_FILE), weightData);
      await writeFileAtomic(file, JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}
