import { defineConfig } from 'vitest/config';

// One vitest run covers every project; each project names itself in its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['libs/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'plugins/*/vitest.config.ts', 'tools/*/vitest.config.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // A private temp folder per run; the run fails if a test leaves anything in it.
    globalSetup: ['./tools/test-setup/temp-dir-guard.ts'],
  },
});
