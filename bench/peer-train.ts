/**
 * patchstream vs PyTorch on the CPU: the same alexnet-small, data, recipe and batch, runs
 * interleaved (patchstream, PyTorch, patchstream, ...) so both see the same machine load.
 *
 *   npx tsx bench/peer-train.ts [--mode train|steps] [--reps 3] [--epochs 8] [--batch-size 64]
 *       [--lr 0.01] [--lr-steps 6] [--data .bench-data/grey28] [--workers N] [--torch-threads N]
 *       [--model alexnet-small|alexnet] [--size 28] [--steps 10] [--json]
 *
 * `train` (default; builds dist/ first): `patchstream train --model alexnet-small --rescale 32 --crop 28 --cache memory
 * --backend wasm` against bench/peer/torch_alexnet_small.py on the 3,000 28x28 grey digits of
 * scripts/make-grey28.mjs (2,400 train, 600 val; generated on first use). Per run: the median
 * images/s of epochs 2.. (epoch 1 also decodes and caches; PyTorch decodes before its clock
 * starts), the val top-1 error of the last two epochs, and patchstream's data-wait share.
 * `steps`: training steps on random data (no loader), e.g. `--model alexnet --size 224 --batch 8`
 * for the full net. PyTorch is Debian's python3-torch at /usr/bin/python3; without it the
 * PyTorch runs are skipped with a message saying so.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../src/cli/bench.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'train' },
    reps: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '8' },
    'batch-size': { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.01' },
    'lr-steps': { type: 'string', default: '6' },
    data: { type: 'string', default: '.bench-data/grey28' },
    workers: { type: 'string' },
    'torch-threads': { type: 'string', default: String(availableParallelism()) },
    model: { type: 'string', default: 'alexnet-small' },
    size: { type: 'string', default: '28' },
    steps: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const PYTHON = '/usr/bin/python3';
const reps = Number(values.reps);
const print = (line: string): void => {
  if (!values.json) console.log(line);
};

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Array<Record<string, unknown>> {
  const child = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  if (child.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${child.status ?? child.signal}:\n${child.stderr.slice(-3000)}`);
  }
  return child.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

// The patchstream runs start bin/patchstream.js, which runs dist/: build it first, so the figures
// are for the code in src/ and not for a stale build.
if (values.mode === 'train') {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (build.status !== 0) throw new Error(`npm run build exited with ${build.status ?? build.signal}:\n${build.stderr}`);
}

const torchCheck = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const torchVersion = torchCheck.status === 0 ? torchCheck.stdout.trim() : undefined;
if (torchVersion === undefined) {
  console.error(`PyTorch runs skipped: ${PYTHON} cannot import torch (install Debian's python3-torch)`);
}
const torchThreads = values['torch-threads'] as string;

interface Row {
  side: 'patchstream' | 'pytorch';
  rep: number;
  imagesPerSecond: number;
  valTop1Error?: number[];
  dataWaitShare?: number;
  detail: string;
}
const rows: Row[] = [];

if (values.mode === 'steps') {
  const common = ['--steps', values.steps as string];
  for (let rep = 1; rep <= reps; rep++) {
    const [ours] = run(process.execPath, ['--import', 'tsx', 'bench/peer/patchstream-step.ts', '--model', values.model as string, '--size', values.size as string, '--batch', values['batch-size'] as string, ...common]);
    rows.push({ side: 'patchstream', rep, imagesPerSecond: ours!['imagesPerSecond'] as number, detail: ours!['backend'] as string });
    print(`rep ${rep} patchstream ${(ours!['imagesPerSecond'] as number).toFixed(1)} images/s (${ours!['stepMs'] as number} ms/step) ${ours!['backend'] as string}`);
    if (torchVersion !== undefined) {
      const [peer] = run(PYTHON, ['bench/peer/torch_alexnet_small.py', '--train', '-', '--val', '-', '--steps-only', values.steps as string, '--model', values.model as string, '--crop', values.size as string, '--batch-size', values['batch-size'] as string, '--threads', torchThreads]);
      rows.push({ side: 'pytorch', rep, imagesPerSecond: peer!['imagesPerSecond'] as number, detail: `PyTorch ${torchVersion}, ${peer!['threads'] as number} threads` });
      print(`rep ${rep} pytorch     ${(peer!['imagesPerSecond'] as number).toFixed(1)} images/s (${(peer!['stepMs'] as number).toFixed(0)} ms/step)`);
    }
  }
} else {
  run(process.execPath, ['scripts/make-grey28.mjs', values.data as string]);
  const train = join(values.data as string, 'train');
  const val = join(values.data as string, 'val');
  const epochs = values.epochs as string;
  const batch = values['batch-size'] as string;
  const lrSteps = values['lr-steps'] as string;
  const epochRate = (lines: Array<Record<string, unknown>>): number =>
    median(lines.slice(lines.length > 1 ? 1 : 0).map((line) => line['imagesPerSecond'] as number));
  for (let rep = 1; rep <= reps; rep++) {
    const out = mkdtempSync(join(tmpdir(), 'patchstream-peer-'));
    try {
      const lines = run(process.execPath, [
        'bin/patchstream.js', 'train', train, '--val', val, '--model', 'alexnet-small', '--rescale', '32', '--crop', '28',
        '--epochs', epochs, '--batch-size', batch, '--lr', values.lr as string, ...(lrSteps ? ['--lr-steps', lrSteps] : []),
        '--cache', 'memory', '--backend', 'wasm', '--no-ten-crop', '--json', '--out', out,
        ...(values.workers ? ['--workers', values.workers] : []),
      ]);
      const epochLines = lines.filter((line) => line['type'] === 'epoch');
      const summary = lines.at(-1)!;
      const row: Row = {
        side: 'patchstream',
        rep,
        imagesPerSecond: epochRate(epochLines),
        valTop1Error: epochLines.slice(-2).map((line) => line['valTop1Error'] as number),
        dataWaitShare: median(epochLines.slice(1).map((line) => line['dataWaitShare'] as number)),
        detail: String(summary['backend']),
      };
      rows.push(row);
      print(`rep ${rep} patchstream ${row.imagesPerSecond.toFixed(1)} images/s, val top-1 error ${row.valTop1Error!.map((e) => (e * 100).toFixed(1) + '%').join(', ')}, data wait ${(row.dataWaitShare! * 100).toFixed(1)}% (${row.detail})`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    if (torchVersion !== undefined) {
      const lines = run(PYTHON, ['bench/peer/torch_alexnet_small.py', '--train', train, '--val', val, '--epochs', epochs, '--batch-size', batch, '--lr', values.lr as string, '--lr-steps', lrSteps, '--threads', torchThreads]);
      const start = lines.find((line) => line['type'] === 'start')!;
      const epochLines = lines.filter((line) => line['type'] === 'epoch');
      const row: Row = {
        side: 'pytorch',
        rep,
        imagesPerSecond: epochRate(epochLines),
        valTop1Error: epochLines.slice(-2).map((line) => line['valTop1Error'] as number),
        detail: `PyTorch ${torchVersion}, ${start['threads'] as number} threads`,
      };
      rows.push(row);
      print(`rep ${rep} pytorch     ${row.imagesPerSecond.toFixed(1)} images/s, val top-1 error ${row.valTop1Error!.map((e) => (e * 100).toFixed(1) + '%').join(', ')} (${row.detail})`);
    }
  }
}

const rate = (side: Row['side']): number => median(rows.filter((row) => row.side === side).map((row) => row.imagesPerSecond));
const ours = rate('patchstream');
const peer = torchVersion === undefined ? NaN : rate('pytorch');
const summary = {
  mode: values.mode,
  model: values.mode === 'steps' ? values.model : 'alexnet-small',
  reps,
  patchstreamImagesPerSecond: ours,
  pytorchImagesPerSecond: peer,
  ratio: ours / peer,
  loadAverage: (await import('node:os')).loadavg()[0],
  rows,
};
print(`median of ${reps}: patchstream ${ours.toFixed(1)} images/s, PyTorch ${peer.toFixed(1)} images/s, ratio ${(ours / peer).toFixed(2)}x (1-min load average at the end ${summary.loadAverage.toFixed(1)} on ${availableParallelism()} cores)`);
if (values.json) console.log(JSON.stringify(summary));
