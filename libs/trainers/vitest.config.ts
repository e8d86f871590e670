import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'trainers',
    include: ['tests/**/*.test.ts'],
  },
});
