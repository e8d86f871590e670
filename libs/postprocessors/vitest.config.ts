import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'postprocessors',
    include: ['tests/**/*.test.ts'],
    // Project configs do not inherit the root's options; slow machines need more than vitest's 5 s.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Every file imports tfjs, which costs seconds per fresh module graph on a loaded machine; the
    // tests share no mutable state besides the (always cpu) backend, so one graph per worker suffices.
    isolate: false,
  },
});
