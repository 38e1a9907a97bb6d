/** `--shard auto` / `--shard <rank>/<worldSize>[:pad|drop]` and `<dir | index.json | URL>` for the commands that load data. */
import { InvalidArgumentError } from 'commander';
import { imageFolder } from '../dataset/image-folder.js';
import type { Dataset } from '../dataset/types.js';
import { isHttpLocation, webDataset } from '../dataset/webdataset.js';
import type { ShardOption } from '../loader/shard.js';

/** commander parser of `--shard`. */
export function shardFlag(value: string): ShardOption {
  if (value === 'auto') return 'auto';
  const match = /^(\d+)\/(\d+)(?::(pad|drop))?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("Expected 'auto' or <rank>/<worldSize>[:pad|drop], e.g. 0/4 or 3/4:drop.");
  const rank = Number(match[1]);
  const worldSize = Number(match[2]);
  if (worldSize < 1 || rank >= worldSize) throw new InvalidArgumentError(`Expected rank below worldSize in ${value}.`);
  return { rank, worldSize, even: (match[3] as 'pad' | 'drop' | undefined) ?? 'pad' };
}

/** A WebDataset for an `http(s)://` URL or a path ending in `.json` or holding `index.json`, an ImageFolder otherwise. */
export async function openDataset(location: string, signal?: AbortSignal): Promise<Dataset> {
  if (isHttpLocation(location) || location.endsWith('.json')) return webDataset(location, { signal });
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  if (existsSync(join(location, 'index.json'))) return webDataset(location, { signal });
  return imageFolder(location, { signal });
}
