import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'networks',
    include: ['tests/**/*.test.ts'],
  },
});
