/** `patchstream pack <dir|list-file> --out <dir>`: WebDataset tar shards plus `index.json`. */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { imageFolder } from '../dataset/image-folder.js';
import { listFile } from '../dataset/list-file.js';
import { packShards } from '../dataset/pack.js';
import type { Dataset } from '../dataset/types.js';
import { formatBytes } from '../loader/cache.js';
import { integer, interruptSignal, Reporter, UsageError, type CommonFlags } from './output.js';

interface PackFlags extends CommonFlags {
  out?: string;
  shardSize: number;
  prefix: string;
}

/** An ImageFolder for a folder, a list file otherwise (the same datasets the loader takes). */
export async function openFolderOrList(location: string, signal?: AbortSignal): Promise<Dataset> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(location)).isDirectory();
  } catch (error) {
    throw new UsageError(`Cannot read ${location}: ${(error as Error).message}`);
  }
  return isFolder ? imageFolder(location, { signal }) : listFile(location, { signal });
}

/** Registers the command. */
export function registerPack(program: Command): void {
  program
    .command('pack')
    .description('write a dataset as WebDataset tar shards (<key>.<ext> + <key>.cls) and an index.json for random access by byte range')
    .argument('<source>', 'ImageFolder dataset (class subfolders) or a list file (path,label lines)')
    .option('--out <dir>', 'folder for the shards and index.json (required)')
    .option('--shard-size <n>', 'samples per shard', integer(1, 100_000_000), 1000)
    .option('--prefix <name>', 'shard names: <prefix>-000000.tar, ...', 'train')
    .option('--json', 'one JSON object per line, the last a summary')
    .option('--verbose', 'full error stacks')
    .addHelpText('after', `
Examples:
  $ patchstream pack data/train --out shards/train
  $ patchstream pack val.txt --out shards/val --prefix val --shard-size 5000
  # serve shards/train with any HTTP server that supports Range requests, then:
  #   webDataset('https://host/shards/train/index.json')`)
    .action(async (source: string, flags: PackFlags) => {
      if (!flags.out) throw new UsageError('pack needs --out <dir>: the folder the shards and index.json are written to');
      const reporter = new Reporter(flags);
      const { signal, dispose } = interruptSignal();
      try {
        const dataset = await openFolderOrList(source, signal);
        const progress = reporter.progress(dataset.samples.length, 'pack |{bar}| {value}/{total} images | ETA {eta_formatted}');
        const result = await packShards(dataset, flags.out, { shardSize: flags.shardSize, prefix: flags.prefix, signal, onProgress: (done) => progress.update(done) });
        progress.stop();
        reporter.info(`${result.images} images in ${result.shards} shards (${formatBytes(result.bytes)}), ${dataset.classes.length} classes; index ${result.index}`);
        reporter.summary({ images: result.images, shards: result.shards, bytes: result.bytes, out: result.out, index: result.index, classes: dataset.classes.length });
      } finally {
        dispose();
      }
    });
}
