/**
 * Nothing corrupt passes: libjpeg-turbo's djpeg (Debian libjpeg-turbo-progs) is the oracle.
 * Whatever djpeg warns about, patchstream refuses (code DECODE, stage decode, libjpeg's message);
 * whatever djpeg decodes cleanly, patchstream accepts, on every decode path the build has.
 * Fixtures: fixtures/corrupt/, made from real photos by scripts/make-corrupt-jpegs.mjs.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoader } from '../../src/loader/loader.js';
import { resolveLoaderOptions } from '../../src/loader/options.js';
import type { FailOn } from '../../src/options.js';
import { decodePaths } from '../../src/stages/decode-paths.js';
import { decodeSettings, type DecodeSettings } from '../../src/stages/load.js';
import { checkJpegStream, jpegIssueFor } from '../../src/stages/jpeg-check.js';
import { configureSharp } from '../../src/pool/sharp.js';
import { temporaryFolder } from '../helpers.js';

const ROOT = 'fixtures/corrupt';
interface Entry { corruption: string | null; djpeg: { status: number; messages: string[] } | null }
const manifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8')) as { files: Record<string, Entry> };
const FILES = Object.keys(manifest.files).sort();
const EOF = 'Premature end of JPEG file';

const djpegMissing = spawnSync('djpeg', ['-version'], { stdio: 'ignore' }).error !== undefined;
if (djpegMissing) console.warn('jpeg-check tests: djpeg not found, the oracle tests are skipped (install Debian libjpeg-turbo-progs)');

/**
 * djpeg's verdict. djpeg prints only the first warning unless its trace level is 3 or more
 * (jerror.c emit_message), so `-verbose` three times lists all of them, among trace lines.
 */
function djpeg(path: string): { status: number; first: string | null; all: string[] } {
  const plain = spawnSync('djpeg', ['-outfile', '/dev/null', path], { encoding: 'utf8' });
  const traced = spawnSync('djpeg', ['-verbose', '-verbose', '-verbose', '-outfile', '/dev/null', path], { encoding: 'utf8' });
  const first = plain.stderr.split('\n').find(Boolean) ?? null;
  return { status: plain.status ?? -1, first, all: traced.stderr.split('\n').filter(Boolean) };
}

const oracle = new Map<string, ReturnType<typeof djpeg>>();
const verdict = (file: string) => {
  let known = oracle.get(file);
  if (!known) oracle.set(file, (known = djpeg(join(ROOT, file))));
  return known;
};

function settings(failOn: FailOn): DecodeSettings {
  return decodeSettings(resolveLoaderOptions({ rescale: 64, failOn, sampleTimeout: 20 }));
}

beforeAll(() => configureSharp());

describe('fixtures/corrupt', () => {
  it('manifest.json lists every file, and the set has what the tests need', () => {
    const onDisk = [...readdirNames('good'), ...readdirNames('bad')].sort();
    expect(onDisk).toEqual(FILES);
    const corruptions = new Set(FILES.map((file) => manifest.files[file]!.corruption));
    for (const kind of ['flip8', 'bitflip', 'truncate', 'zero-range', 'no-eoi', 'zero-eoi', 'huffman', 'no-scan', 'extraneous', 'restart']) {
      expect(corruptions.has(kind), kind).toBe(true);
    }
    const recorded = FILES.map((file) => manifest.files[file]!.djpeg);
    expect(recorded.every((run) => run !== null)).toBe(true);
    // both sides of the oracle are there: refused files, and corrupted files djpeg still accepts
    expect(recorded.filter((run) => run!.status !== 0).length).toBeGreaterThan(40);
    expect(FILES.filter((file) => file.startsWith('bad/') && manifest.files[file]!.djpeg!.status === 0).length).toBeGreaterThan(3);
  });

  it('checkJpegStream() - first message equals the djpeg verdict recorded in manifest.json (no djpeg needed)', () => {
    for (const file of FILES) {
      const run = manifest.files[file]!.djpeg!;
      const result = checkJpegStream(readFileSync(join(ROOT, file)), 'warning');
      expect(result.walked, file).toBe(true);
      expect(result.walked && result.issue ? result.issue.message : null, file).toBe(run.status === 0 ? null : run.messages[0]);
    }
  });
});

describe.skipIf(djpegMissing)('djpeg oracle (Debian libjpeg-turbo-progs)', () => {
  it('checkJpegStream() - reports exactly djpeg\'s first message, or nothing when djpeg is silent', () => {
    for (const file of FILES) {
      const run = verdict(file);
      const result = checkJpegStream(readFileSync(join(ROOT, file)), 'warning');
      expect(result.walked && result.issue ? result.issue.message : null, file).toBe(run.status === 0 ? null : run.first);
    }
  });

  for (const path of decodePaths()) {
    it(`decodeFile() [${path.name}] - failOn 'warning' refuses every file djpeg warns about (DECODE, stage decode, libjpeg's message) and accepts every file it decodes cleanly`, async () => {
      const refused: string[] = [];
      const expected: string[] = [];
      for (const file of FILES) {
        const run = verdict(file);
        const result = await path.decode(join(ROOT, file), settings('warning'));
        if (run.status !== 0) expected.push(file);
        if (result.ok) {
          expect(result.image.data.length, file).toBe(64 * 64 * 3);
          continue;
        }
        refused.push(file);
        expect(result.failure.code, file).toBe('DECODE');
        expect(result.failure.stage, file).toBe('decode');
        expect(result.failure.reason, file).toContain(run.first!);
      }
      expect(refused).toEqual(expected);
      // the good files are all accepted: progressive, greyscale, 4:4:4 and restart markers included
      expect(refused.filter((file) => file.startsWith('good/'))).toEqual([]);
    });

    it(`decodeFile() [${path.name}] - failOn 'truncated' refuses exactly the files whose data ends early, 'error' also those libjpeg cannot decode`, async () => {
      for (const failOn of ['truncated', 'error'] as const) {
        const refused: string[] = [];
        const expected: string[] = [];
        for (const file of FILES) {
          const run = verdict(file);
          const truncated = run.all.includes(EOF);
          const fatal = run.status === 1;
          const result = await path.decode(join(ROOT, file), settings(failOn));
          if (failOn === 'truncated' && fatal && !truncated) continue; // libjpeg stops before the data runs out: the decoder's own error decides
          if (truncated || (failOn === 'error' && fatal)) expected.push(file);
          if (!result.ok) {
            refused.push(file);
            expect(result.failure.code, file).toBe('DECODE');
          }
        }
        expect(refused, failOn).toEqual(expected);
      }
    });
  }

  it("jpegIssueFor() - failOn 'none' checks nothing", () => {
    for (const file of FILES) expect(jpegIssueFor(readFileSync(join(ROOT, file)), 'none')).toBeUndefined();
  });

  it('checkJpegStream() - agrees with djpeg on 150 seeded random corruptions of the good files', () => {
    const goods = FILES.filter((file) => file.startsWith('good/')).map((file) => readFileSync(join(ROOT, file)));
    const scratch = temporaryFolder('patchstream-fuzz-');
    let state = 2026;
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    const disagreements: string[] = [];
    let warned = 0;
    try {
      for (let n = 0; n < 150; n++) {
        const bytes = Buffer.from(goods[n % goods.length]!);
        const kind = n % 5;
        let data: Buffer = bytes;
        if (kind === 0) for (let k = 0; k < 1 + Math.floor(random() * 8); k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        else if (kind === 1) bytes[Math.floor(random() * bytes.length)]! ^= 1 << Math.floor(random() * 8);
        else if (kind === 2) data = bytes.subarray(0, Math.floor(bytes.length * random()));
        else if (kind === 3) { const at = Math.floor(random() * bytes.length); bytes.fill(0, at, at + 1 + Math.floor(random() * 200)); }
        else { const at = Math.floor(random() * (bytes.length - 2)); data = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + Math.floor(random() * 30))]); }
        const file = join(scratch.dir, `fuzz-${n}.jpg`);
        writeFileSync(file, data);
        const run = djpeg(file);
        if (run.status !== 0) warned++;
        const result = checkJpegStream(data, 'warning');
        const mine = result.walked ? (result.issue?.message ?? null) : 'not walked';
        if (mine !== (run.status === 0 ? null : run.first)) disagreements.push(`fuzz-${n} (kind ${kind}): djpeg ${JSON.stringify(run.first)}, check ${JSON.stringify(mine)}`);
      }
    } finally {
      scratch.remove();
    }
    expect(disagreements).toEqual([]);
    expect(warned).toBeGreaterThan(50);
  });
});

describe.skipIf(djpegMissing)('createLoader() on corrupt JPEGs (djpeg oracle)', () => {
  const scratch = temporaryFolder('patchstream-corrupt-loader-');
  afterAll(() => scratch.remove());

  it("createLoader() - onError 'skip' skips exactly the files djpeg warns about, by name, and delivers every other one", async () => {
    const samples = FILES.map((file, index) => ({ path: join(ROOT, file), label: index % 2 }));
    const loader = createLoader({ samples, classes: ['a', 'b'] }, {
      batchSize: 16, mode: 'centre', rescale: 36, crop: 32, workers: 1, onError: 'skip', maxSkipped: Infinity, shuffle: false, seed: 1,
    });
    let delivered = 0;
    try {
      for await (const batch of loader.epoch(0)) delivered += batch.labels.length;
      const stats = loader.stats();
      const skipped = stats.skippedFiles.map((entry) => entry.path).sort();
      const expected = FILES.filter((file) => verdict(file).status !== 0).map((file) => join(ROOT, file)).sort();
      expect(skipped).toEqual(expected);
      expect(delivered).toBe(FILES.length - expected.length);
      expect(stats.skipped).toEqual({ DECODE: expected.length });
      for (const entry of stats.skippedFiles) expect(entry.reason).toMatch(/^libjpeg: /);
    } finally {
      await loader.close();
    }
  });
});

function readdirNames(folder: string): string[] {
  return readdirSync(join(ROOT, folder)).map((name) => `${folder}/${name}`);
}
