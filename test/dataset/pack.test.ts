/** patchstream pack: shards GNU tar and Python's tarfile read, with an index.json whose byte ranges are right. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFolder } from '../../src/dataset/image-folder.js';
import { packShards, type ShardIndex } from '../../src/dataset/pack.js';
import type { Dataset } from '../../src/dataset/types.js';
import { temporaryFolder } from '../helpers.js';
import { classFolder } from './class-folder.js';

const bin = fileURLToPath(new URL('../../bin/patchstream.js', import.meta.url));
const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const hasTar = spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout?.includes('GNU tar') ?? false;
const hasPython = onPath('python3');

const folder = temporaryFolder();
const data = join(folder.dir, 'data');
const out = join(folder.dir, 'shards');
let dataset: Dataset;
let index: ShardIndex;
let summary: Record<string, unknown>;

beforeAll(async () => {
  await classFolder(data, 61);
  dataset = await imageFolder(data);
  const run = spawnSync(process.execPath, [bin, 'pack', data, '--out', out, '--shard-size', '25', '--json'], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
}, 60_000);
afterAll(() => folder.remove());

describe('patchstream pack', () => {
  it('patchstream pack - writes train-000000.tar ... and index.json; the summary counts images, shards and bytes', () => {
    expect(summary).toMatchObject({ type: 'summary', images: 61, shards: 3, out, classes: 3 });
    expect(index.shardlist.map((s) => [s.url, s.nsamples])).toEqual([['train-000000.tar', 25], ['train-000001.tar', 25], ['train-000002.tar', 11]]);
    expect(index.__kind__).toBe('wids-shard-index-v1');
    expect(index.classes).toEqual(['class-a', 'class-b', 'class-c']);
    expect(summary.bytes).toBe(index.shardlist.reduce((sum, s) => sum + s.filesize, 0));
    expect(index.shardlist.flatMap((s) => s.labels)).toEqual(dataset.samples.map((s) => s.label));
  });

  it('packShards() - index offsets point at the original bytes of each image', () => {
    let i = 0;
    for (const shard of index.shardlist) {
      const tar = readFileSync(join(out, shard.url));
      expect(tar.length).toBe(shard.filesize);
      shard.offsets.forEach((offset, j) => {
        const original = readFileSync(dataset.samples[i++]!.path);
        expect(shard.lengths[j]).toBe(original.length);
        expect(tar.subarray(offset, offset + original.length).equals(original)).toBe(true);
      });
    }
  });

  it.skipIf(!hasTar)(`packShards() - GNU tar lists <key>.<ext> and <key>.cls adjacent and extracts the original bytes${hasTar ? '' : ' [SKIPPED: GNU tar not found; install Debian tar]'}`, () => {
    const list = spawnSync('tar', ['-tf', join(out, 'train-000001.tar')], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    const names = list.stdout.trim().split('\n');
    expect(names.length).toBe(50);
    for (let j = 0; j < 25; j++) {
      const key = String(25 + j).padStart(9, '0');
      expect(names[2 * j]).toMatch(new RegExp(`^${key}\\.(jpg|png)$`));
      expect(names[2 * j + 1]).toBe(`${key}.cls`);
    }
    const member = index.shardlist[1]!.members[3]!;
    const extracted = spawnSync('tar', ['-xOf', join(out, 'train-000001.tar'), member]);
    expect(extracted.stdout.equals(readFileSync(dataset.samples[28]!.path))).toBe(true);
    const cls = spawnSync('tar', ['-xOf', join(out, 'train-000001.tar'), member.replace(/\.\w+$/, '.cls')], { encoding: 'utf8' });
    expect(cls.stdout).toBe(String(dataset.samples[28]!.label));
  });

  it.skipIf(!hasPython)(`packShards() - Python's tarfile reads every member at the offset and length the index gives${hasPython ? '' : ' [SKIPPED: python3 not found; install Debian python3]'}`, () => {
    const script = `
import json, sys, tarfile
out, originals = sys.argv[1], json.loads(sys.argv[2])
index = json.load(open(out + '/index.json'))
i = 0
for shard in index['shardlist']:
    with tarfile.open(out + '/' + shard['url']) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert len(members) == 2 * shard['nsamples'], (shard['url'], len(members))
        for name, offset, length, label in zip(shard['members'], shard['offsets'], shard['lengths'], shard['labels']):
            m = members[name]
            assert m.offset_data == offset and m.size == length, (name, m.offset_data, offset)
            assert tar.extractfile(m).read() == open(originals[i], 'rb').read(), name
            key = name.split('.')[0]
            assert tar.extractfile(members[key + '.cls']).read().decode() == str(label), name
            i += 1
print(i)
`;
    const run = spawnSync('python3', ['-c', script, out, JSON.stringify(dataset.samples.map((s) => s.path))], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('61');
  });

  it('patchstream pack - reads a list file too; packing twice gives the same bytes', async () => {
    const list = join(data, 'list.txt'); // paths in a list file are relative to its folder
    writeFileSync(list, dataset.samples.slice(0, 7).map((s) => `${s.path.slice(data.length + 1)},${s.label}`).join('\n'));
    const run = spawnSync(process.execPath, [bin, 'pack', list, '--out', join(folder.dir, 'from-list'), '--json'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1)!)).toMatchObject({ images: 7, shards: 1 });
    const again = await packShards({ ...dataset, samples: dataset.samples.slice(0, 7), classes: ['0', '1', '2'] }, join(folder.dir, 'again'));
    expect(readFileSync(join(again.out, 'train-000000.tar')).equals(readFileSync(join(folder.dir, 'from-list', 'train-000000.tar')))).toBe(true);
  });

  it('patchstream pack - bad input: no --out is a usage error; a missing sample file names the file and the stage', async () => {
    const noOut = spawnSync(process.execPath, [bin, 'pack', data], { encoding: 'utf8' });
    expect(noOut.status).toBe(2);
    expect(noOut.stderr).toMatch(/pack needs --out <dir>/);
    const missing = join(data, 'class-a', 'gone.jpg');
    await expect(packShards({ samples: [{ path: missing, label: 0 }], classes: ['a'] }, join(folder.dir, 'bad'))).rejects.toThrow(`PACK ${missing} (stage read): ENOENT`);
    await expect(packShards(dataset, join(folder.dir, 'bad'), { shardSize: 0 })).rejects.toThrow('Expected integer between 1 and 100000000 for options.shardSize but received 0 of type number');
  });
});
