import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('scripts/build-wasm.mjs', () => {
  it('build-wasm --check - the committed kernels (resample, train-kernels) are what their .wat sources compile to', () => {
    // Exits 1 naming the stale file when a .wat was edited without rebuilding.
    const out = execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/up to date/);
  });
});
