/**
 * How the CLI talks: human lines, `--json` lines (one object per line on stdout, the last a
 * summary; human lines then go to stderr), a progress bar only on a TTY without `--json`,
 * errors on one line (stack with `--verbose`), and the exit codes 0 ok, 1 failure,
 * 2 bad usage, 130 interrupted.
 */
import cliProgress from 'cli-progress';
import { InvalidArgumentError } from 'commander';

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Ctrl-C: exit code 130. */
export class InterruptedError extends Error {
  constructor(message = 'interrupted') {
    super(message);
    this.name = 'InterruptedError';
  }
}

/** Flags every command has. */
export interface CommonFlags {
  json?: boolean;
  verbose?: boolean;
}

/** A progress display (a no-op off a TTY or under --json). */
export interface Progress {
  update(value: number, payload?: Record<string, string | number>): void;
  setTotal(total: number): void;
  stop(): void;
}

/** Output for one command run. */
export class Reporter {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly interactive: boolean;
  #bar: cliProgress.SingleBar | null = null;

  constructor(flags: CommonFlags, stream: NodeJS.WriteStream = process.stderr) {
    this.json = flags.json === true;
    this.verbose = flags.verbose === true;
    this.interactive = !this.json && stream.isTTY === true && process.env.CI === undefined;
  }

  /** A human line: stdout normally, stderr under --json (stdout is for JSON only). */
  info(line: string): void {
    this.#clearBar(() => (this.json ? process.stderr : process.stdout).write(`${line}\n`));
  }

  /** A JSON event line (only under --json). */
  event(object: Record<string, unknown>): void {
    if (this.json) process.stdout.write(`${JSON.stringify(object)}\n`);
  }

  /** The final JSON summary line (only under --json). */
  summary(object: Record<string, unknown>): void {
    this.event({ type: 'summary', ...object });
  }

  /** A progress bar on stderr; `format` uses cli-progress tokens ({bar}, {value}, {total}, {eta_formatted}, payload keys). */
  progress(total: number, format: string, payload: Record<string, string | number> = {}): Progress {
    if (!this.interactive) return { update: () => undefined, setTotal: () => undefined, stop: () => undefined };
    const bar = new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 50 }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, payload);
    this.#bar = bar;
    return {
      update: (value, more) => bar.update(value, more ?? {}),
      setTotal: (value) => bar.setTotal(value),
      stop: () => {
        bar.stop();
        if (this.#bar === bar) this.#bar = null;
      },
    };
  }

  #clearBar(write: () => void): void {
    const bar = this.#bar;
    if (!bar) {
      write();
      return;
    }
    // Keep the bar on its own line: clear it, print, redraw.
    process.stderr.write('\r\x1b[2K');
    write();
    bar.render();
  }
}

/** Formats an error for the terminal: one line, or the stack with --verbose. */
export function formatError(error: unknown, verbose: boolean): string {
  if (!(error instanceof Error)) return `error: ${String(error)}`;
  if (verbose) return `error: ${error.stack ?? error.message}${error.cause ? `\ncaused by: ${String((error.cause as Error).stack ?? error.cause)}` : ''}`;
  const [first, ...rest] = error.message.split('\n');
  // DatasetError and SkipBudgetError list their problems on the following lines: keep a few.
  const listed = rest.filter((line) => line.startsWith('  ')).slice(0, 10);
  return [`error: ${first}`, ...listed].join('\n');
}

/** Exit code for an error. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof TypeError || error instanceof RangeError) return EXIT.usage;
  if (error instanceof InterruptedError) return EXIT.interrupted;
  if (error instanceof Error && error.name === 'AbortError') return EXIT.interrupted;
  return EXIT.failure;
}

/** commander argument parser: a whole number in [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || number < min || number > max) {
      throw new InvalidArgumentError(`Expected an integer between ${min} and ${max}.`);
    }
    return number;
  };
}

/** commander argument parser: a finite number in [min, max]. */
export function decimal(min: number, max = Number.MAX_VALUE): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number < min || number > max) {
      throw new InvalidArgumentError(`Expected a number between ${min} and ${max}.`);
    }
    return number;
  };
}

/** An AbortSignal that fires on the first SIGINT; a second SIGINT exits at once with 130. */
export function interruptSignal(onFirst?: () => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    onFirst?.();
    controller.abort(new InterruptedError('interrupted (Ctrl-C)'));
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', handler) };
}

/** Right-aligned table rows for the terminal. */
export function table(rows: Array<Array<string | number>>): string {
  const cells = rows.map((row) => row.map((cell) => String(cell)));
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  return cells.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')).join('\n');
}
