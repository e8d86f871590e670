import { z } from 'zod';
import { libraryModule, schemaSection, type AnyComponentDefinition, type ConfigSection } from '@oodkit/core';
import { idxDataset } from './datasets/idx.js';
import { generatedDataset } from './datasets/generated.js';
import { fractalsDataset } from './datasets/fractals.js';
import { jsonDigitsDataset } from './datasets/json-digits.js';
import { subsetDataset } from './datasets/subset.js';
import { concatDataset } from './datasets/concat.js';
import { mnistDataset, fashionMnistDataset } from './datasets/embedded.js';
import { cifarBinaryDataset } from './datasets/cifar-binary.js';
import { npyDataset } from './datasets/npy.js';
import { imglistDataset } from './datasets/imglist.js';
import { normalizePreprocessor } from './preprocessors/normalize.js';
import { resizePreprocessor } from './preprocessors/resize.js';
import { centerCropPreprocessor } from './preprocessors/center-crop.js';
import { randomCropPreprocessor } from './preprocessors/random-crop.js';
import { randomResizedCropPreprocessor } from './preprocessors/random-resized-crop.js';
import { horizontalFlipPreprocessor } from './preprocessors/horizontal-flip.js';
import { toGrayscalePreprocessor, toRgbPreprocessor } from './preprocessors/channels.js';
import { benchmarkConfigSection } from './benchmark/section.js';
import { preprocessorConfigSection } from './preprocessors/section.js';

/** Every component this library registers; add new ones to this list. */
export const dataDefinitions: readonly AnyComponentDefinition[] = [
  idxDataset,
  cifarBinaryDataset,
  npyDataset,
  imglistDataset,
  jsonDigitsDataset,
  generatedDataset,
  fractalsDataset,
  subsetDataset,
  concatDataset,
  mnistDataset,
  fashionMnistDataset,
  normalizePreprocessor,
  resizePreprocessor,
  centerCropPreprocessor,
  randomCropPreprocessor,
  randomResizedCropPreprocessor,
  horizontalFlipPreprocessor,
  toRgbPreprocessor,
  toGrayscalePreprocessor,
];

/** Top-level config keys owned by the data library. */
export const dataSections: readonly ConfigSection[] = [
  benchmarkConfigSection,
  preprocessorConfigSection,
  schemaSection('data_dir', z.string().min(1).optional(), 'root for relative dataset paths (default: the working directory)'),
  schemaSection(
    'cache_dir',
    z.string().min(1).optional(),
    'where converted package data is cached (default: OODKIT_CACHE_DIR, else <project>/.cache/oodkit)',
  ),
];

/** The ContainerModule of @oodkit/data: its components and config keys. */
export const dataModule = libraryModule('@oodkit/data', { components: dataDefinitions, sections: dataSections });
