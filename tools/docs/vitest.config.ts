import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'docs',
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
