import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'data',
    include: ['tests/**/*.test.ts'],
  },
});
