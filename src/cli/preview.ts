/**
 * `patchstream preview <dir> --out grid.png`: a contact sheet of the first batch of an epoch,
 * as the model sees it (normalisation undone, PCA lighting kept), each patch captioned with its
 * class, file and augmentation. The drawing is `contactSheet()` (src/preview/contact-sheet.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { Option, type Command } from 'commander';
import { imageFolder } from '../dataset/image-folder.js';
import { createLoader } from '../loader/loader.js';
import type { Batch } from '../loader/batch.js';
import { MODES, type Mode, LOADER_DEFAULTS } from '../options.js';
import { contactSheet } from '../preview/contact-sheet.js';
import { integer, interruptSignal, Reporter, type CommonFlags } from './output.js';

interface PreviewFlags extends CommonFlags {
  out: string;
  mode: Mode | 'center';
  count: number;
  seed: number;
  epoch: number;
  rescale: number;
  crop?: number;
  tile: number;
  workers: number;
  skipErrors?: boolean;
}

/**
 * Registers the command.
 *
 * The PNG's size, with `side = max(crop, tile)`:
 * - train / centre: `columns = ceil(sqrt(count))`, `rows = ceil(count / columns)`,
 *   `width = columns * (side + 8) + 8`, `height = 30 + rows * (side + 60 + 8) + 8`;
 * - ten-crop: `width = 10 * (side + 8) + 8`, `height = 30 + count * (20 + side + 16 + 8) + 8`
 *
 * (count = images actually in the first batch: fewer when the dataset is smaller).
 */
export function registerPreview(program: Command): void {
  program
    .command('preview')
    .description('draw the first batch of an epoch as a contact sheet PNG: the patches as the model sees them, with class, file and augmentation')
    .argument('<dir>', 'ImageFolder dataset (class subfolders of images)')
    .requiredOption('--out <file>', 'PNG to write')
    .addOption(new Option('--mode <mode>', 'train (random patch, flip, lighting), centre, or ten-crop (one row of 10 patches per image)').choices([...MODES, 'center']).default('train'))
    .option('--count <n>', 'images to draw (the batch size)', integer(1, 256), 16)
    .option('--seed <n>', 'seed of every random choice', integer(0, 0xffffffff), LOADER_DEFAULTS.seed)
    .option('--epoch <n>', 'epoch whose first batch is drawn', integer(0, 0xffffffff), LOADER_DEFAULTS.seed)
    .option('--rescale <n>', 'shorter side after rescale', integer(1, 4096), LOADER_DEFAULTS.rescale)
    .option('--crop <n>', 'patch side (default: 224, or rescale if smaller)', integer(1, 4096))
    .option('--tile <n>', 'tile side in px: smaller patches are upscaled (nearest neighbour), larger keep their size', integer(16, 4096), 160)
    .option('--workers <n>', 'worker threads', integer(1, 256), Math.min(4, availableParallelism()))
    .option('--skip-errors', 'leave unreadable images out (listed) instead of failing')
    .option('--json', 'one JSON object per line, the last a summary')
    .option('--verbose', 'full error stacks')
    .addHelpText('after', `
Output size, with side = max(crop, tile), gap 8:
  train, centre: columns = ceil(sqrt(count)), rows = ceil(count / columns)
                 width  = columns * (side + 8) + 8
                 height = 30 + rows * (side + 60 + 8) + 8
  ten-crop:      width  = 10 * (side + 8) + 8
                 height = 30 + count * (20 + side + 16 + 8) + 8
  (count = images in the first batch; fewer if the dataset is smaller)

Examples:
  $ patchstream preview data/train --out grid.png
  $ patchstream preview fixtures/shapes --out grid.png --rescale 64 --crop 48 --seed 3 --epoch 2
  $ patchstream preview data/val --out ten.png --mode ten-crop --count 4 --json`)
    .action(async (dir: string, flags: PreviewFlags) => {
      const reporter = new Reporter(flags);
      const { signal, dispose } = interruptSignal();
      try {
        await preview(dir, flags, reporter, signal);
      } finally {
        dispose();
      }
    });
}

async function preview(dir: string, flags: PreviewFlags, reporter: Reporter, signal: AbortSignal): Promise<void> {
  const dataset = await imageFolder(dir, { signal });
  const loader = createLoader(dataset, {
    mode: flags.mode,
    batchSize: flags.count,
    seed: flags.seed,
    rescale: flags.rescale,
    ...(flags.crop === undefined ? {} : { crop: flags.crop }),
    dtype: 'float32',
    workers: flags.workers,
    prefetch: 1,
    onError: flags.skipErrors ? 'skip' : 'throw',
    maxSkipped: Infinity,
    signal,
  });
  let batch: Batch | undefined;
  try {
    for await (const first of loader.epoch(flags.epoch, { signal })) {
      batch = first.clone();
      break;
    }
  } finally {
    await loader.close();
  }
  for (const error of batch?.skipped ?? []) reporter.info(`preview: skipped ${error.message}`);
  if (!batch || batch.indices.length === 0) throw new Error(`No image of the first batch of ${dir} could be read`);

  const sheet = await contactSheet(loader, batch, { tile: flags.tile });
  await mkdir(dirname(flags.out), { recursive: true });
  await writeFile(flags.out, sheet.png);

  const mode = loader.options.mode;
  if (sheet.captionError) reporter.info(`preview: captions left out (${sheet.captionError}); the patches are drawn`);
  reporter.info(`preview: wrote ${flags.out}, ${sheet.width}x${sheet.height} px, ${sheet.tiles} tiles (${batch.indices.length} images, ${mode}, seed ${flags.seed}, epoch ${flags.epoch}, rescale ${loader.options.rescale}, crop ${loader.options.crop})`);
  reporter.summary({
    out: flags.out,
    width: sheet.width,
    height: sheet.height,
    tiles: sheet.tiles,
    mode,
    images: batch.indices.length,
    columns: sheet.columns,
    rows: sheet.rows,
    seed: flags.seed,
    epoch: flags.epoch,
    rescale: loader.options.rescale,
    crop: loader.options.crop,
    tile: flags.tile,
    captions: sheet.captions,
    bytes: sheet.png.length,
    skipped: batch.skipped.length,
  });
}
