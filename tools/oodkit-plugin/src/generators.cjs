// nx loads generator factories with require(); under Node 20 it cannot strip TypeScript itself (it
// would need swc or ts-node), so the TypeScript sources are loaded through tsx, the workspace's runner.
const { require: tsxRequire } = require('tsx/cjs/api');
const generators = tsxRequire('./component-generator.ts', __filename);

module.exports = {
  postprocessor: generators.postprocessorGenerator,
  trainer: generators.trainerGenerator,
  network: generators.networkGenerator,
  dataset: generators.datasetGenerator,
};
