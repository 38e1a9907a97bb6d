/**
 * Vitest globalSetup: pool workers load their code from dist/, so build it once before any test
 * runs. Without this, `vitest run` after an edit would test the stale worker of the last build.
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
