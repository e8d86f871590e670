import { ConfigError, type ConfigSection } from '@oodkit/core';
import { parseSioConfig, sioConfigSchema } from './sio-config.js';

/** The `sio:` top-level config key (absent or `enabled: false` = ordinary training). */
export const sioSection: ConfigSection = {
  key: 'sio',
  description: 'SIO: train on real + synthetic ID data (any trainer); synthetic from .npy files or a generator',
  schema: sioConfigSchema,
  validate(value) {
    try {
      parseSioConfig(value);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.issues;
      throw error;
    }
  },
  complete: (value) => parseSioConfig(value) ?? value,
};
