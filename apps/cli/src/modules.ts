import type { ContainerModule } from 'inversify';
import { computeModule } from '@oodkit/compute';
import { dataModule } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { evaluatorsModule } from '@oodkit/evaluators';
import { sioModule } from '@oodkit/sio';
import { pipelinesModule } from '@oodkit/pipelines';

/** The built-in libraries; plugins named in a config's `plugins:` are loaded after these. */
export const builtinModules: readonly ContainerModule[] = [
  computeModule,
  dataModule,
  networksModule,
  postprocessorsModule,
  trainersModule,
  evaluatorsModule,
  sioModule,
  pipelinesModule,
];
