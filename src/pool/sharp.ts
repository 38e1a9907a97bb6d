/**
 * How sharp is set up in every thread that decodes: the main thread that starts a pool, and
 * each pool worker. Process-wide libvips settings belong to the pool, not to a stage.
 */
import sharp from 'sharp';
import type { ImageFormat } from '../options.js';

/** libvips loaders patchstream allows, by format (Buffer loaders: we always decode from memory). */
const LOADERS: Record<ImageFormat, string> = {
  jpeg: 'VipsForeignLoadJpegBuffer',
  png: 'VipsForeignLoadPngBuffer',
  webp: 'VipsForeignLoadWebpBuffer',
  gif: 'VipsForeignLoadNsgifBuffer',
  tiff: 'VipsForeignLoadTiffBuffer',
};

let configured = false;

/**
 * Sets sharp up the way a data loader needs it, once per thread: one libvips thread per image
 * (parallelism comes from the pool, not from libvips), no operation cache (every file is read
 * once per epoch), and every loader blocked except JPEG/PNG/WebP/GIF/TIFF, so SVG, PDF and
 * friends can never be reached whatever a file's bytes say. Blocking is process-wide in libvips.
 *
 * `blockLoaders: false` is for pool workers: the thread that starts a pool has already blocked
 * the loaders for the whole process, and blocking all then unblocking some again leaves a moment
 * in which every loader is blocked, failing decodes running in other threads at that moment
 * ("unsupported image format", "operation is blocked"): seen when a worker starts or is replaced.
 */
export function configureSharp(options: { blockLoaders?: boolean } = {}): void {
  if (configured) return;
  configured = true;
  sharp.concurrency(1);
  sharp.cache(false);
  if (options.blockLoaders === false) return;
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: Object.values(LOADERS) });
}
