import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // builds dist/ (the worker's code) once per run: see test/global-setup.ts
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    exclude: ['test/soak/**', 'node_modules/**'],
    // Worker threads and sharp share two cores: run test files one at a time so
    // timings inside a test are not starved and thread counts stay meaningful.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
