import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_VERSION } from '../../src/version.js';
import { jsonLines, runCli as run } from '../helpers.js';

describe('patchstream CLI conventions', () => {
  it('patchstream --version and --help exit 0; every command has --help with examples', () => {
    expect(run('--version')).toMatchObject({ code: 0, stdout: `${PACKAGE_VERSION}\n` });
    expect(run('--help').code).toBe(0);
    for (const command of ['train', 'eval', 'bench', 'stats', 'preview', 'prepare']) {
      const help = run(command, '--help');
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(/Examples:\n\s+\$ patchstream /);
    }
  });

  it('patchstream - bad usage exits 2 with a one-line error', () => {
    const unknown = run('frobnicate');
    expect(unknown.code).toBe(2);
    const badNumber = run('bench', 'fixtures/shapes', '--batch-size', 'lots');
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toMatch(/--batch-size <n>' argument 'lots' is invalid/);
    const badModel = run('train', 'fixtures/shapes', '--model', 'resnet');
    expect(badModel.code).toBe(2);
    expect(badModel.stderr).toMatch(/^error: option '--model <name>' argument 'resnet' is invalid\. Allowed choices are alexnet, alexnet-small\.\n/);
    const badCrop = run('train', 'fixtures/shapes', '--rescale', '32', '--crop', '64');
    expect(badCrop.code).toBe(2);
  });

  it('patchstream - bad data exits 1 with the reason on one line, stack only with --verbose', () => {
    const missing = run('stats', 'no/such/folder');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: Cannot open dataset folder .*no\/such\/folder\n/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const dir = mkdtempSync(join(tmpdir(), 'patchstream-cli-'));
    mkdirSync(join(dir, 'only-class'));
    copyFileSync('fixtures/broken/truncated.jpg', join(dir, 'only-class', 'truncated.jpg'));
    const broken = run('stats', dir);
    rmSync(dir, { recursive: true, force: true });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^error: DECODE .*truncated\.jpg \(stage decode\): /);
    const verbose = run('stats', 'no/such/folder', '--verbose');
    expect(verbose.stderr).toMatch(/\n\s+at /);
    const noCheckpoint = run('eval', 'fixtures/odd', 'fixtures/shapes');
    expect(noCheckpoint.code).toBe(1);
    expect(noCheckpoint.stderr).toMatch(/^error: CHECKPOINT .*not a checkpoint folder/);
  });

  it('patchstream stats --json - success exits 0; stdout is JSON lines ending in the summary', () => {
    const stats = run('stats', 'fixtures/shapes', '--sample', '20', '--rescale', '32', '--json');
    expect(stats.code, stats.stderr).toBe(0);
    const summary = jsonLines(stats.stdout).at(-1)!;
    expect(summary.type).toBe('summary');
    expect(summary.mean).toHaveLength(3);
    expect(summary.eigenvectors).toHaveLength(3);
    expect(summary.pixels).toBe(20 * 32 * 32);
  });
});
