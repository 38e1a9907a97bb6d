import { defineConfig } from 'vitest/config';

// The soak suite (`npm run test:soak`): long runs that measure memory and throughput, kept out
// of the default suite. `--expose-gc` so each epoch can be measured after a full collection.
export default defineConfig({
  test: {
    // builds dist/ (the worker's code) once per run: see test/global-setup.ts
    globalSetup: ['test/global-setup.ts'],
    include: ['test/soak/**/*.test.ts'],
    fileParallelism: false,
    pool: 'forks',
    execArgv: ['--expose-gc'],
    testTimeout: 900_000,
    hookTimeout: 900_000,
  },
});
