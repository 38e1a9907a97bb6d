/** Writes that survive a crash: data fsynced before it is relied on, replacements by rename. */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes a file and fsyncs it. */
export async function writeDurable(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Fsyncs a folder, so renames and new entries in it are on disk. */
export async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces a file atomically: readers see the old content or the new, never a mix, and a crash
 * at any moment leaves one of the two (temporary file, fsync, rename, fsync of the folder).
 */
export async function replaceDurably(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeDurable(temporary, data);
  await rename(temporary, path);
  await syncFolder(dirname(path));
}
