import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'nx-plugin',
    include: ['tests/**/*.test.ts'],
    // the tutorial test runs the generated project's tests and the oodkit CLI as child processes
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
