/**
 * The `patchstream` command line. One file per command; this one wires them together and owns
 * the exit codes: 0 ok, 1 failure, 2 bad usage, 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { PACKAGE_VERSION } from '../version.js';
import { registerBench } from './bench.js';
import { registerPrepare } from './prepare.js';
import { registerStats } from './stats.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerPreview } from './preview.js';
import { registerPack } from './pack.js';
import { EXIT, exitCodeOf, formatError } from './output.js';

/** Builds the program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('patchstream')
    .description('AlexNet-style data augmentation, training and ten-crop evaluation for Node.js')
    .version(PACKAGE_VERSION, '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', `
Examples:
  $ patchstream train fixtures/shapes --out runs/shapes
  $ patchstream eval runs/shapes fixtures/shapes
  $ patchstream bench .bench-data/imagenet-like --json
  $ patchstream stats data/train --out stats.json
  $ patchstream preview data/train --out grid.png
  $ patchstream pack data/train --out shards/train`);
  registerTrain(program);
  registerEval(program);
  registerBench(program);
  registerStats(program);
  registerPrepare(program);
  registerPreview(program);
  registerPack(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with a "success" CommanderError.
      if (error.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    process.stderr.write(`${formatError(error, verbose)}\n`);
    return exitCodeOf(error);
  }
}
