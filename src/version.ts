/** This package's version, read from package.json (one level above both src/ and dist/). */
import { createRequire } from 'node:module';

/** The installed patchstream version. */
export const PACKAGE_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
