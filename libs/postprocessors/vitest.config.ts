import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'postprocessors',
    include: ['tests/**/*.test.ts'],
    // Every file imports tfjs, which costs seconds per fresh module graph on a loaded machine; the
    // tests share no mutable state besides the (always cpu) backend, so one graph per worker suffices.
    isolate: false,
  },
});
