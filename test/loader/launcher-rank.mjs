// One rank of the launcher tests (test/loader/launchers.test.ts): started by torchrun or mpirun,
// it takes its shard from the environment and writes what it saw to <out>/rank-<rank>.json.
// Usage: node launcher-rank.mjs <dataset dir> <out dir> <even: pad|drop>
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLoader, imageFolder } from '../../dist/index.js';

const [dir, out, even] = process.argv.slice(2);
const dataset = await imageFolder(dir);
const auto = createLoader(dataset, { shard: 'auto', workers: 1 });
const { rank, worldSize, source } = auto.options.shard;
await auto.close();
const loader = createLoader(dataset, { shard: { rank, worldSize, even }, rescale: 8, crop: 8, batchSize: 32, workers: 1, seed: 11, mode: 'train' });
const batches = [];
for await (const batch of loader.epoch(3)) batches.push({ indices: [...batch.indices], padded: [...batch.padded] });
await loader.close();
writeFileSync(join(out, `rank-${rank}.json`), JSON.stringify({ rank, worldSize, source, length: loader.length, batches }));
