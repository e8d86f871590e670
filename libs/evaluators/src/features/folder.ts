import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConfigError,
  DataError,
  NpyFile,
  npyToFloat32,
  npyToInt32,
  readNpy,
  writeFileAtomic,
  writeNpy,
  zodIssuesToConfigIssues,
  PENULTIMATE_LAYER,
  type FeatureSplit,
  type FinalLayer,
  type LayerFeatures,
} from '@oodkit/core';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';

/**
 * A feature folder: everything needed to evaluate postprocessors without a network, and to compare
 * with other implementations (NumPy files, C order).
 *
 *   fc_weight.npy          [C, D]  float32 | float64
 *   fc_bias.npy            [C]     float32 | float64
 *   <split>_features.npy   [N, D]  float32 | float64   (penultimate features z)
 *   <split>_labels.npy     [N]     any integer dtype   (class, or -1 for OOD)
 *   splits.yml             roles → split names
 *
 * Optionally, pooled features of other layers (multi-layer methods; written by `feat-extract --layers`):
 *
 *   layers.yml                          pooling + layer name → dim
 *   layers/<layer>/<split>_features.npy [N, dim]  float32 | float64
 *
 * A folder without layers.yml holds the layer 'penultimate' only (every folder written before).
 */
export const FEATURE_FOLDER_SPLITS_FILE = 'splits.yml';
export const FEATURE_FOLDER_LAYERS_FILE = 'layers.yml';

const layerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'layer names are file-name safe: letters, digits, _ . - (no "/" or spaces)')
  .refine((name) => name !== PENULTIMATE_LAYER, `'${PENULTIMATE_LAYER}' is z itself (<split>_features.npy), not an extra layer`);

/** layers.yml: how the block maps were reduced, and each extra layer's width. */
export const featureLayersFileSchema = z.strictObject({
  pooling: z.literal('global_average').describe("[N, H, W, C] maps averaged over H·W (OpenOOD mds_ensemble's 'mean')"),
  layers: z.record(layerName, z.int().positive()),
});
export type FeatureLayersFile = z.infer<typeof featureLayersFileSchema>;

const splitName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'split names are file-name safe: letters, digits, _ . - (no "/" or spaces)');

/** The roles of splits.yml. Only `test` and at least one OOD set are needed to evaluate; the rest as methods require. */
export const featureSplitsSchema = z.strictObject({
  /** ID training features (methods fitted on train: mds, knn, vim, ...). */
  train: splitName.optional(),
  /** ID validation features (methods fitted on val, and the ID side of hyperparameter search). */
  val: splitName.optional(),
  /** ID test features. */
  test: splitName,
  /** OOD validation set for hyperparameter search. */
  ood_val: splitName.optional(),
  near: z.array(splitName).default([]),
  far: z.array(splitName).default([]),
  /** Covariate-shifted ID sets, counted as ID (OpenOOD's CSID / FSOOD). */
  csid: z.array(splitName).default([]),
});
export type FeatureSplits = z.infer<typeof featureSplitsSchema>;
export type FeatureSplitsInput = z.input<typeof featureSplitsSchema>;

/** Every split the roles mention, each once, in role order. */
export function splitNamesOf(splits: FeatureSplits): string[] {
  const names = [splits.train, splits.val, splits.test, ...splits.csid, splits.ood_val, ...splits.near, ...splits.far];
  return [...new Set(names.filter((n): n is string => typeof n === 'string'))];
}

/** Whether a split holds ID samples (labels must be classes) or OOD samples (labels ignored, treated as -1). */
export function isIdRole(splits: FeatureSplits, name: string): boolean {
  return name === splits.train || name === splits.val || name === splits.test || splits.csid.includes(name);
}

export function parseFeatureSplits(text: string, file: string): FeatureSplits {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError([{ path: '', file, message: `not valid YAML: ${(error as Error).message}` }]);
  }
  const parsed = featureSplitsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new ConfigError(
      zodIssuesToConfigIssues(parsed.error, '', featureSplitsSchema).map((issue) => ({ ...issue, file })),
      `${file} is not a valid feature-folder split map`,
    );
  }
  const value = parsed.data;
  if (value.near.length + value.far.length === 0 && value.ood_val === undefined) {
    throw new ConfigError([{ path: 'near', file, message: 'no OOD split: list at least one split under near or far' }]);
  }
  return value;
}

function featuresFile(dir: string, split: string): string {
  return join(dir, `${split}_features.npy`);
}

function layerFeaturesFile(dir: string, layer: string, split: string): string {
  return join(dir, 'layers', layer, `${split}_features.npy`);
}

function labelsFile(dir: string, split: string): string {
  return join(dir, `${split}_labels.npy`);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** First NaN/±Inf, named by file, row and column. */
function checkFinite(data: Float32Array, cols: number, file: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      throw new DataError(`${file}: ${v} at row ${Math.floor(i / cols)}, column ${i % cols}; features must be finite`);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * An opened feature folder: the final layer and split map are read and validated at open; each
 * split's features are read, validated and cached on first use (a folder with many OOD sets is not
 * loaded whole).
 */
export class FeatureFolder {
  private readonly cache = new Map<string, Promise<FeatureSplit>>();
  private readonly layerCache = new Map<string, Promise<LayerFeatures>>();

  private constructor(
    readonly dir: string,
    readonly splits: FeatureSplits,
    readonly finalLayer: FinalLayer,
    /** Extra layers (layers.yml) → width; empty for a single-layer folder. */
    readonly layerDims: Readonly<Record<string, number>> = {},
  ) {}

  /** Every layer the folder holds: 'penultimate' (z), then those of layers.yml. */
  get layers(): string[] {
    return [PENULTIMATE_LAYER, ...Object.keys(this.layerDims)];
  }

  /** Throws naming the layers the folder has when one of `wanted` is not among them. */
  checkLayers(wanted: readonly string[]): void {
    for (const layer of wanted) {
      if (!this.layers.includes(layer)) {
        throw new DataError(
          `${this.dir}: the feature folder holds no layer '${layer}' (its layers: ${this.layers.join(', ')}); ` +
            'write it with oodkit feat-extract --layers',
        );
      }
    }
  }

  static async open(dir: string): Promise<FeatureFolder> {
    const splitsPath = join(dir, FEATURE_FOLDER_SPLITS_FILE);
    if (!(await exists(splitsPath))) {
      throw new DataError(`${dir}: not a feature folder (no ${FEATURE_FOLDER_SPLITS_FILE})`);
    }
    const splits = parseFeatureSplits(await readFile(splitsPath, 'utf8'), splitsPath);
    const finalLayer = await readFinalLayer(dir);
    const layersPath = join(dir, FEATURE_FOLDER_LAYERS_FILE);
    const layerDims = (await exists(layersPath)) ? parseFeatureLayersFile(await readFile(layersPath, 'utf8'), layersPath).layers : {};
    const folder = new FeatureFolder(dir, splits, finalLayer, layerDims);
    // Headers of every split are checked now, so a wrong shape fails before minutes of scoring.
    for (const name of splitNamesOf(splits)) {
      const { rows } = await folder.checkHeaders(name);
      for (const layer of Object.keys(layerDims)) await folder.checkLayerHeader(layer, name, rows);
    }
    return folder;
  }

  private async checkLayerHeader(layer: string, name: string, rows: number): Promise<void> {
    const path = layerFeaturesFile(this.dir, layer, name);
    if (!(await exists(path))) throw new DataError(`${path}: missing (layer '${layer}' is listed in ${FEATURE_FOLDER_LAYERS_FILE})`);
    const f = await NpyFile.open(path);
    try {
      const dim = this.layerDims[layer]!;
      if (f.shape.length !== 2 || f.shape[0] !== rows || f.shape[1] !== dim) {
        throw new DataError(
          `${path}: shape ${shapeText(f.shape)}, expected [${rows}, ${dim}] (rows of ${name}, dim from ${FEATURE_FOLDER_LAYERS_FILE})`,
        );
      }
      if (f.dtype !== 'float32' && f.dtype !== 'float64') throw new DataError(`${path}: dtype ${f.dtype}, expected float32 or float64`);
    } finally {
      await f.close();
    }
  }

  /** One extra layer's features of split `name` (read, validated and cached on first use). */
  layerFeatures(layer: string, name: string): Promise<LayerFeatures> {
    this.checkLayers([layer]);
    const key = `${layer}\u0000${name}`;
    let pending = this.layerCache.get(key);
    if (!pending) {
      pending = (async () => {
        const { rows } = await this.checkHeaders(name);
        await this.checkLayerHeader(layer, name, rows);
        const path = layerFeaturesFile(this.dir, layer, name);
        const dim = this.layerDims[layer]!;
        const features = npyToFloat32(await readNpy(path), path);
        checkFinite(features, dim, path);
        return { dim, features };
      })();
      this.layerCache.set(key, pending);
      pending.catch(() => this.layerCache.delete(key));
    }
    return pending;
  }

  /** The split with the extra `layers` attached ('penultimate' is z: `features`, not repeated there). */
  async splitWithLayers(name: string, layers: readonly string[] = []): Promise<FeatureSplit> {
    const split = await this.split(name);
    const extra = layers.filter((l) => l !== PENULTIMATE_LAYER);
    if (extra.length === 0) return split;
    this.checkLayers(extra);
    const attached: Record<string, LayerFeatures> = {};
    for (const layer of extra) attached[layer] = await this.layerFeatures(layer, name);
    return { ...split, layers: attached };
  }

  get numClasses(): number {
    return this.finalLayer.numClasses;
  }

  get featureDim(): number {
    return this.finalLayer.featureDim;
  }

  /** The split's features and labels (OOD splits get labels −1 whatever the file holds, as OpenOOD does). */
  split(name: string): Promise<FeatureSplit> {
    let pending = this.cache.get(name);
    if (!pending) {
      pending = this.load(name);
      this.cache.set(name, pending);
      pending.catch(() => this.cache.delete(name));
    }
    return pending;
  }

  /** Forget a cached split and its layers (free their memory). */
  release(name: string): void {
    this.cache.delete(name);
    for (const key of [...this.layerCache.keys()]) if (key.endsWith(`\u0000${name}`)) this.layerCache.delete(key);
  }

  private async checkHeaders(name: string): Promise<{ rows: number }> {
    const fPath = featuresFile(this.dir, name);
    const lPath = labelsFile(this.dir, name);
    for (const path of [fPath, lPath]) {
      if (!(await exists(path))) throw new DataError(`${path}: missing (split '${name}' is named in ${FEATURE_FOLDER_SPLITS_FILE})`);
    }
    const f = await NpyFile.open(fPath);
    const l = await NpyFile.open(lPath);
    try {
      if (f.shape.length !== 2 || f.shape[1] !== this.featureDim) {
        throw new DataError(`${fPath}: shape ${shapeText(f.shape)}, expected [N, ${this.featureDim}] (D from fc_weight.npy)`);
      }
      if (f.dtype !== 'float32' && f.dtype !== 'float64') throw new DataError(`${fPath}: dtype ${f.dtype}, expected float32 or float64`);
      if (l.shape.length !== 1 || l.shape[0] !== f.shape[0]) {
        throw new DataError(`${lPath}: shape ${shapeText(l.shape)}, expected [${f.shape[0]}] (one label per row of ${name}_features.npy)`);
      }
      if (l.dtype === 'float32' || l.dtype === 'float64' || l.dtype === 'bool') {
        throw new DataError(`${lPath}: dtype ${l.dtype}, expected an integer dtype`);
      }
      if (f.shape[0] === 0) throw new DataError(`${fPath}: split '${name}' is empty (0 rows)`);
      return { rows: f.shape[0]! };
    } finally {
      await f.close();
      await l.close();
    }
  }

  private async load(name: string): Promise<FeatureSplit> {
    if (!splitNamesOf(this.splits).includes(name)) {
      throw new DataError(
        `${this.dir}: split '${name}' is not named in ${FEATURE_FOLDER_SPLITS_FILE} (known: ${splitNamesOf(this.splits).join(', ')})`,
      );
    }
    const { rows } = await this.checkHeaders(name);
    const fPath = featuresFile(this.dir, name);
    const lPath = labelsFile(this.dir, name);
    const features = npyToFloat32(await readNpy(fPath), fPath);
    checkFinite(features, this.featureDim, fPath);
    let labels = npyToInt32(await readNpy(lPath), lPath);
    if (isIdRole(this.splits, name)) {
      for (let i = 0; i < labels.length; i++) {
        const y = labels[i]!;
        if (y < 0 || y >= this.numClasses) {
          throw new DataError(`${lPath}: label ${y} at index ${i} of ID split '${name}' is outside [0, ${this.numClasses})`);
        }
      }
    } else {
      labels = new Int32Array(labels.length).fill(-1);
    }
    return { name, count: rows, dim: this.featureDim, features, labels };
  }
}

export function parseFeatureLayersFile(text: string, file: string): FeatureLayersFile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError([{ path: '', file, message: `not valid YAML: ${(error as Error).message}` }]);
  }
  const parsed = featureLayersFileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new ConfigError(
      zodIssuesToConfigIssues(parsed.error, '', featureLayersFileSchema).map((issue) => ({ ...issue, file })),
      `${file} is not a valid feature-folder layer list`,
    );
  }
  return parsed.data;
}

async function readFinalLayer(dir: string): Promise<FinalLayer> {
  const wPath = join(dir, 'fc_weight.npy');
  const bPath = join(dir, 'fc_bias.npy');
  const w = await readNpy(wPath);
  const b = await readNpy(bPath);
  for (const [path, a] of [
    [wPath, w],
    [bPath, b],
  ] as const) {
    if (a.dtype !== 'float32' && a.dtype !== 'float64') throw new DataError(`${path}: dtype ${a.dtype}, expected float32 or float64`);
  }
  if (w.shape.length !== 2 || w.shape[0] === 0 || w.shape[1] === 0) {
    throw new DataError(`${wPath}: shape ${shapeText(w.shape)}, expected [C, D] with C, D > 0`);
  }
  const [numClasses, featureDim] = w.shape as [number, number];
  if (b.shape.length !== 1 || b.shape[0] !== numClasses) {
    throw new DataError(`${bPath}: shape ${shapeText(b.shape)}, expected [${numClasses}] (C from fc_weight.npy)`);
  }
  const weight = npyToFloat32(w, wPath);
  const bias = npyToFloat32(b, bPath);
  checkFinite(weight, featureDim, wPath);
  checkFinite(bias, numClasses, bPath);
  return { numClasses, featureDim, weight, bias };
}

export interface FeatureFolderContent {
  readonly finalLayer: FinalLayer;
  /** Every split to write, by name; `layers` holds the pooled features of every extra layer. */
  readonly splits: readonly Pick<FeatureSplit, 'name' | 'features' | 'labels' | 'layers'>[];
  readonly roles: FeatureSplitsInput;
  /** Extra layers (besides z) every split carries, name → dim; omitted = a single-layer folder. */
  readonly layers?: Readonly<Record<string, number>>;
}

/**
 * Write a feature folder (each file atomically). Shapes are checked before anything is written, so a
 * bad call leaves no half folder. Reused by `oodkit feat-extract`.
 */
export async function writeFeatureFolder(dir: string, content: FeatureFolderContent): Promise<void> {
  const roles = featureSplitsSchema.parse(content.roles);
  const { numClasses: c, featureDim: d, weight, bias } = content.finalLayer;
  if (weight.length !== c * d) throw new DataError(`writeFeatureFolder: weight has ${weight.length} values, expected ${c}×${d}`);
  if (bias.length !== c) throw new DataError(`writeFeatureFolder: bias has ${bias.length} values, expected ${c}`);
  const byName = new Map(content.splits.map((s) => [s.name, s]));
  for (const name of splitNamesOf(roles)) {
    if (!byName.has(name)) throw new DataError(`writeFeatureFolder: split '${name}' is named in the roles but not given`);
  }
  const layerDims = content.layers ?? {};
  for (const layer of Object.keys(layerDims)) {
    const checked = layerName.safeParse(layer);
    if (!checked.success) throw new DataError(`writeFeatureFolder: layer '${layer}': ${checked.error.issues[0]!.message}`);
  }
  for (const s of content.splits) {
    splitName.parse(s.name);
    if (s.features.length !== s.labels.length * d) {
      throw new DataError(
        `writeFeatureFolder: split '${s.name}' has ${s.features.length} feature values for ${s.labels.length} labels of dim ${d}`,
      );
    }
    for (const [layer, dim] of Object.entries(layerDims)) {
      const values = s.layers?.[layer];
      if (!values || values.dim !== dim || values.features.length !== s.labels.length * dim) {
        throw new DataError(`writeFeatureFolder: split '${s.name}' lacks layer '${layer}' as [${s.labels.length}, ${dim}]`);
      }
    }
  }
  await mkdir(dir, { recursive: true });
  await writeNpy(join(dir, 'fc_weight.npy'), { data: weight, shape: [c, d] });
  await writeNpy(join(dir, 'fc_bias.npy'), { data: bias, shape: [c] });
  for (const s of content.splits) {
    await writeNpy(featuresFile(dir, s.name), { data: s.features, shape: [s.labels.length, d] });
    await writeNpy(labelsFile(dir, s.name), { data: s.labels, shape: [s.labels.length] });
    for (const [layer, dim] of Object.entries(layerDims)) {
      await mkdir(join(dir, 'layers', layer), { recursive: true });
      await writeNpy(layerFeaturesFile(dir, layer, s.name), { data: s.layers![layer]!.features, shape: [s.labels.length, dim] });
    }
  }
  if (Object.keys(layerDims).length > 0) {
    const file: FeatureLayersFile = { pooling: 'global_average', layers: { ...layerDims } };
    await writeFileAtomic(join(dir, FEATURE_FOLDER_LAYERS_FILE), stringifyYaml(file));
  }
  const yamlRoles: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(roles)) {
    if (value !== undefined && !(Array.isArray(value) && value.length === 0 && key === 'csid')) yamlRoles[key] = value;
  }
  await writeFileAtomic(join(dir, FEATURE_FOLDER_SPLITS_FILE), stringifyYaml(yamlRoles));
}
