import { describe, expect, it } from 'vitest';
import { permutation, philox4x32, SampleRng, STREAM } from '../src/random.js';

const hex = (words: Uint32Array) => Array.from(words, (w) => w.toString(16).padStart(8, '0')).join(' ');

describe('philox4x32()', () => {
  // Known-answer vectors from Random123's kat_vectors (philox4x32_10).
  it('philox4x32() - matches the Random123 known-answer vectors', () => {
    expect(hex(philox4x32(0, 0, 0, 0, 0, 0))).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    expect(hex(philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff))).toBe('408f276d 41c83b0e a20bc7c6 6d5451fd');
    expect(hex(philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0))).toBe('d16cfe09 94fdcceb 5001e420 24126ea1');
  });
});

describe('SampleRng', () => {
  it('SampleRng - draws are a pure function of (seed, epoch, index, stream)', () => {
    const a = new SampleRng(7, 3, 11);
    const b = new SampleRng(7, 3, 11);
    expect(a.uniforms(STREAM.crop, 9)).toEqual(b.uniforms(STREAM.crop, 9));
    expect(a.normals(STREAM.lighting, 3)).toEqual(b.normals(STREAM.lighting, 3));
    expect(new SampleRng(7, 4, 11).uniforms(STREAM.crop, 4)).not.toEqual(a.uniforms(STREAM.crop, 4));
    expect(new SampleRng(7, 3, 12).uniforms(STREAM.crop, 4)).not.toEqual(a.uniforms(STREAM.crop, 4));
    expect(new SampleRng(8, 3, 11).uniforms(STREAM.crop, 4)).not.toEqual(a.uniforms(STREAM.crop, 4));
    expect(a.uniforms(STREAM.flip, 4)).not.toEqual(a.uniforms(STREAM.crop, 4));
  });

  it('SampleRng.integer() - uniform over [low, high] with both ends reached', () => {
    const counts = new Array(33).fill(0);
    for (let index = 0; index < 33_000; index++) counts[new SampleRng(1, 0, index).integer(STREAM.crop, 0, 0, 32)]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });

  it('SampleRng.normals() - standard normal moments', () => {
    const values: number[] = [];
    for (let index = 0; index < 20_000; index++) values.push(...new SampleRng(2, 0, index).normals(STREAM.lighting, 3));
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
    const uniforms = new SampleRng(2, 0, 0).uniforms(STREAM.flip, 1000);
    expect(Math.min(...uniforms)).toBeGreaterThan(0);
    expect(Math.max(...uniforms)).toBeLessThan(1);
  });
});

describe('permutation()', () => {
  it('permutation() - a permutation, stable for (seed, epoch), different across epochs', () => {
    const p = permutation(1000, 5, 0);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(permutation(1000, 5, 0)).toEqual(p);
    expect(permutation(1000, 5, 1)).not.toEqual(p);
    expect(permutation(1000, 6, 0)).not.toEqual(p);
    expect(permutation(1, 5, 0)).toEqual(Int32Array.from([0]));
    expect(permutation(0, 5, 0).length).toBe(0);
  });

  it('permutation() - every position is equally likely for every item', () => {
    const counts = Array.from({ length: 4 }, () => new Array(4).fill(0));
    for (let epoch = 0; epoch < 8000; epoch++) permutation(4, 9, epoch).forEach((item, position) => counts[item]![position]++);
    for (const row of counts) for (const count of row) expect(Math.abs(count - 2000)).toBeLessThan(200);
  });
});
