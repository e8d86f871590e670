import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'sio',
    include: ['tests/**/*.test.ts'],
  },
});
