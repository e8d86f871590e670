import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'evaluators',
    include: ['tests/**/*.test.ts'],
  },
});
