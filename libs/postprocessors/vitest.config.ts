import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'postprocessors',
    include: ['tests/**/*.test.ts'],
  },
});
