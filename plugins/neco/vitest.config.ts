import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'plugin-neco',
    include: ['tests/**/*.test.ts'],
    // the CLI tests start `oodkit` as a child process (tsx compile on a loaded machine)
    testTimeout: 60_000,
  },
});
