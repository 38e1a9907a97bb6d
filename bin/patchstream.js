#!/usr/bin/env node
// sharp's native work runs on libuv's thread pool, whose size is read once, when the pool is
// first used: set it before anything else runs, so every core can decode. An explicit
// UV_THREADPOOL_SIZE in the environment wins.
import { availableParallelism } from 'node:os';

if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism() * 2));
}
// `patchstream ... | head` closes stdout early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv);
