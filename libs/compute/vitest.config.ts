import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'compute',
    include: ['tests/**/*.test.ts'],
  },
});
