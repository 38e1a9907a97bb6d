/**
 * How to share the cores between the loader's decode workers and the wasm threads: runs
 * `patchstream train` (alexnet-small on the 28x28 grey digits of scripts/make-grey28.mjs,
 * batch 64, --cache memory, wasm) for each (wasm threads, loader workers) pair, the pairs
 * interleaved in every repetition, and prints the median images/s and data-wait share of
 * epochs 2.. per pair (epoch 1 also decodes and fills the cache; its figures are printed apart).
 *
 *   npx tsx bench/train-threads.ts [--pairs 1x1,2x1,2x2] [--reps 2] [--epochs 3] [--data .bench-data/grey28] [--cache memory|none]
 *
 * A pair is `<threads>x<workers>`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../src/cli/bench.js';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '1x1,2x1,2x2' },
    reps: { type: 'string', default: '2' },
    epochs: { type: 'string', default: '3' },
    data: { type: 'string', default: '.bench-data/grey28' },
    cache: { type: 'string', default: 'memory' },
  },
});
const pairs = (values.pairs as string).split(',').map((pair) => {
  const [threads, workers] = pair.split('x').map(Number);
  if (!Number.isInteger(threads) || !Number.isInteger(workers)) throw new Error(`--pairs: expected <threads>x<workers>, not ${pair}`);
  return { threads: threads as number, workers: workers as number };
});
spawnSync(process.execPath, ['scripts/make-grey28.mjs', values.data as string], { stdio: 'inherit' });
const results = new Map<string, { rate: number[]; wait: number[]; first: number[] }>();
for (let rep = 1; rep <= Number(values.reps); rep++) {
  for (const { threads, workers } of pairs) {
    const out = mkdtempSync(join(tmpdir(), 'patchstream-threads-'));
    const child = spawnSync(process.execPath, [
      'bin/patchstream.js', 'train', join(values.data as string, 'train'), '--val', join(values.data as string, 'val'),
      '--model', 'alexnet-small', '--rescale', '32', '--crop', '28', '--epochs', values.epochs as string, '--batch-size', '64',
      '--backend', 'wasm', '--workers', String(workers), '--no-ten-crop', '--json', '--out', out,
      ...(values.cache === 'none' ? [] : ['--cache', values.cache as string]),
    ], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, PATCHSTREAM_WASM_THREADS: String(threads) } });
    rmSync(out, { recursive: true, force: true });
    if (child.status !== 0) throw new Error(`train with ${threads} threads, ${workers} workers failed:\n${child.stderr.slice(-2000)}`);
    const epochs = child.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, number | string>).filter((line) => line['type'] === 'epoch');
    const key = `${threads} wasm thread(s), ${workers} loader worker(s)`;
    const entry = results.get(key) ?? { rate: [], wait: [], first: [] };
    entry.first.push(epochs[0]!['imagesPerSecond'] as number);
    for (const epoch of epochs.slice(1)) {
      entry.rate.push(epoch['imagesPerSecond'] as number);
      entry.wait.push(epoch['dataWaitShare'] as number);
    }
    results.set(key, entry);
    console.log(`rep ${rep}: ${key}: epochs 2..: ${epochs.slice(1).map((e) => `${(e['imagesPerSecond'] as number).toFixed(0)} img/s (wait ${((e['dataWaitShare'] as number) * 100).toFixed(1)}%)`).join(', ')}; epoch 1 ${(epochs[0]!['imagesPerSecond'] as number).toFixed(0)} img/s`);
  }
}
console.log(`medians (${availableParallelism()} cores, 1-min load average now ${loadavg()[0]!.toFixed(1)}):`);
for (const [key, { rate, wait, first }] of results) {
  console.log(`${key.padEnd(40)} ${median(rate).toFixed(1).padStart(7)} img/s, data wait ${(median(wait) * 100).toFixed(1)}%; epoch 1 ${median(first).toFixed(1)} img/s`);
}
