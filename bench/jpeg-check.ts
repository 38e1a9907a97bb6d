/**
 * Cost of the JPEG check (src/stages/jpeg-check.ts) per image, beside the sharp call it guards,
 * measured in the same process, interleaved, on the real photos of fixtures/corrupt/good.
 *
 *   npm run build && node --import tsx bench/jpeg-check.ts [--reps 7] [--rounds 20]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { configureSharp } from '../src/pool/sharp.js';
import { prepareImage } from '../src/stages/decode.js';
import { checkJpegStream } from '../src/stages/jpeg-check.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '7' }, rounds: { type: 'string', default: '20' } } });
const reps = Number(values.reps);
const rounds = Number(values.rounds);
const dir = 'fixtures/corrupt/good';
const files = readdirSync(dir).sort().map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
configureSharp();
const settings = { rescale: 256, kernel: 'linear' as const, background: [0, 0, 0] as const, limitInputPixels: 50_000_000, failOn: 'warning' as const, sampleTimeout: 30 };
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const check: number[] = [];
const decode: number[] = [];
for (let i = 0; i < 3; i++) for (const file of files) { checkJpegStream(file.bytes); await prepareImage(file.bytes, settings); }
for (let rep = 0; rep < reps; rep++) {
  let started = performance.now();
  for (let r = 0; r < rounds; r++) for (const file of files) checkJpegStream(file.bytes);
  check.push((performance.now() - started) / (rounds * files.length));
  started = performance.now();
  for (let r = 0; r < rounds; r++) for (const file of files) await prepareImage(file.bytes, settings);
  decode.push((performance.now() - started) / (rounds * files.length));
}
console.log(`${files.length} photos (${dir}), ${reps} interleaved repetitions of ${rounds} rounds, one call at a time`);
console.log(`jpeg-check per image:                       median ${median(check).toFixed(3)} ms  (runs ${check.map((v) => v.toFixed(3)).join(' ')})`);
console.log(`sharp prepare (decode+rescale 256) per image: median ${median(decode).toFixed(3)} ms  (runs ${decode.map((v) => v.toFixed(3)).join(' ')})`);
console.log(`check / sharp: ${(median(check) / median(decode)).toFixed(2)}`);
for (const file of files) {
  const started = performance.now();
  for (let r = 0; r < rounds; r++) checkJpegStream(file.bytes);
  console.log(`  ${file.name.padEnd(36)} ${((performance.now() - started) / rounds).toFixed(3)} ms`);
}
