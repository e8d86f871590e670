import { ConfigError, type ConfigSection } from '@oodkit/core';
import { isGeneratorSource, parseSioConfig, sioConfigSchema, sioRenamedKeys } from './sio-config.js';

/** The `sio:` top-level config key (absent or `enabled: false` = ordinary training). */
export const sioSection: ConfigSection = {
  key: 'sio',
  description: 'SIO: train on real + synthetic ID data (any trainer); synthetic from .npy files or a generator',
  schema: sioConfigSchema,
  renamed: sioRenamedKeys,
  validate(value, ctx) {
    try {
      const sio = parseSioConfig(value);
      // The generator and its args are checked against the registry now, not when training starts.
      if (sio && isGeneratorSource(sio.synthetic))
        return ctx.registry.validate('generator', { name: sio.synthetic.name, args: sio.synthetic.args }, 'sio.synthetic');
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.issues;
      throw error;
    }
  },
  complete(value, ctx) {
    const sio = parseSioConfig(value);
    if (!sio) return value;
    if (!isGeneratorSource(sio.synthetic)) return sio;
    const args = ctx.registry.resolveArgs('generator', { name: sio.synthetic.name, args: sio.synthetic.args }, 'sio.synthetic');
    return { ...sio, synthetic: { ...sio.synthetic, args } };
  },
};
