import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'compute',
    include: ['tests/**/*.test.ts'],
    // Project configs do not inherit the root's options; slow machines need more than vitest's 5 s.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
