/** Worker of {@link FastPathBench}: prepares the paths it is sent, `inFlight` at a time. */
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { LOADER_DEFAULTS } from '../options.js';
import { prepareJpegFast, recyclePixels } from '../stages/jpeg-turbo.js';
import { configureSharp } from '../pool/sharp.js';
import { prepareImage } from '../stages/decode.js';

configureSharp({ blockLoaders: false });
const { rescale } = workerData as { rescale: number };
const settings = {
  rescale,
  kernel: LOADER_DEFAULTS.kernel,
  background: LOADER_DEFAULTS.background,
  limitInputPixels: LOADER_DEFAULTS.limitInputPixels,
  failOn: LOADER_DEFAULTS.failOn,
  sampleTimeout: LOADER_DEFAULTS.sampleTimeout,
  decoder: 'auto' as const,
};

parentPort!.on('message', async ({ paths, inFlight }: { paths: string[]; inFlight: number }) => {
  let next = 0;
  let failures = 0;
  let fast = 0;
  await Promise.all(Array.from({ length: Math.min(inFlight, paths.length) }, async () => {
    while (next < paths.length) {
      const bytes = await readFile(paths[next++]!);
      const quick = await prepareJpegFast(bytes, settings);
      const result = quick ?? (await prepareImage(bytes, settings));
      if (quick) fast++;
      if (result.ok) recyclePixels(result.image.data);
      else failures++;
    }
  }));
  parentPort!.postMessage({ failures, fast });
});
parentPort!.postMessage('ready');
