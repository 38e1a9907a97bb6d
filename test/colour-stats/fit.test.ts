import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { fitColourStats, statsFromSums } from '../../src/colour-stats/fit.js';
import { IMAGENET_COLOUR_STATS } from '../../src/colour.js';
import { temporaryFolder } from '../helpers.js';

const folder = temporaryFolder();
afterAll(() => folder.remove());

describe('fitColourStats()', () => {
  it('fitColourStats() - pixels along a known colour axis give that axis as the first eigenvector', async () => {
    // Every pixel is base + t * axis with t uniform in [-60, 60] (0-255 units): the covariance is
    // var(t) * axis axis^T, so PC1 = axis, lambda1 = var(t) / 255^2 and the other two are ~0.
    const axis = [1, 2, -1].map((v) => v / Math.sqrt(6));
    const base = [120, 130, 125];
    const dir = join(folder.dir, 'axis');
    mkdirSync(dir, { recursive: true });
    const samples = [];
    let state = 7;
    const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let image = 0; image < 6; image++) {
      const side = 64;
      const data = Buffer.alloc(side * side * 3);
      for (let p = 0; p < side * side; p++) {
        const t = (random() * 2 - 1) * 60;
        for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.round(base[c]! + t * axis[c]!);
      }
      const path = join(dir, `${image}.png`);
      await sharp(data, { raw: { width: side, height: side, channels: 3 } }).png().toFile(path);
      samples.push({ path, label: 0 });
    }
    const stats = await fitColourStats({ samples, classes: ['a'] }, { rescale: 64, workers: 2 });
    expect(stats.images).toBe(6);
    expect(stats.pixels).toBe(6 * 64 * 64);
    expect(stats.scale).toBe(1);
    const first = [0, 1, 2].map((row) => stats.eigenvectors[row]![0]!);
    const dot = Math.abs(first.reduce((s, v, i) => s + v * axis[i]!, 0));
    expect(dot).toBeGreaterThan(0.999);
    const expectedVariance = (60 * 60) / 3 / (255 * 255); // uniform on [-60, 60]
    expect(stats.eigenvalues[0]!).toBeGreaterThan(expectedVariance * 0.9);
    expect(stats.eigenvalues[0]!).toBeLessThan(expectedVariance * 1.1);
    expect(stats.eigenvalues[1]!).toBeLessThan(stats.eigenvalues[0]! / 100);
    for (let c = 0; c < 3; c++) expect(stats.mean[c]!).toBeCloseTo(base[c]! / 255, 2);
    expect(stats.std[1]!).toBeCloseTo(Math.sqrt(expectedVariance) * axis[1]!, 2);
  });

  it('statsFromSums() - mean, std and covariance on the 0-1 scale from 0-255 sums', () => {
    // Two pixels: (0, 0, 0) and (255, 255, 0): mean (0.5, 0.5, 0), var 0.25 for R and G, cov(R, G) = 0.25.
    const sums = [255, 255, 0, 255 * 255, 255 * 255, 0, 255 * 255, 0, 0, 2];
    const stats = statsFromSums(sums, 1);
    expect(stats.mean).toEqual([0.5, 0.5, 0]);
    expect(stats.std[0]).toBeCloseTo(0.5, 12);
    expect(stats.covariance[0]![1]).toBeCloseTo(0.25, 12);
    expect(stats.eigenvalues[0]).toBeCloseTo(0.5, 12);
    expect(Math.abs(stats.eigenvectors[0]![0]!)).toBeCloseTo(Math.SQRT1_2, 10);
    expect(stats.eigenvalues[2]).toBeCloseTo(0, 12);
  });

  it('IMAGENET_COLOUR_STATS - the published constants, columns are unit eigenvectors', () => {
    expect(IMAGENET_COLOUR_STATS.eigenvalues).toEqual([0.2175, 0.0188, 0.0045]);
    for (let column = 0; column < 3; column++) {
      const norm = Math.hypot(...[0, 1, 2].map((row) => IMAGENET_COLOUR_STATS.eigenvectors[row]![column]!));
      expect(norm).toBeCloseTo(1, 3);
    }
    expect(Object.isFrozen(IMAGENET_COLOUR_STATS)).toBe(true);
  });
});
