import { createLogger, type Logger, type LogLevel } from '../core/logger.js';
import { redact } from '../core/secrets.js';

export interface GlobalOptions {
  config?: string;
  state?: string;
  json?: boolean;
  color: boolean;
  verbose?: boolean;
  quiet?: boolean;
  logFormat?: 'text' | 'json' | 'auto';
  logLevel?: LogLevel;
}

/**
 * Where output goes. Results (plans, tables, JSON) go to stdout; logs, progress and errors go to
 * stderr, so `--json` output can be piped. Everything passes through `redact`.
 */
export interface Output {
  json: boolean;
  color: boolean;
  quiet: boolean;
  logger: Logger;
  /** A result line (stdout). Suppressed by --quiet unless `force`. */
  out(text: string, force?: boolean): void;
  /** A diagnostic line (stderr). */
  err(text: string): void;
  /** True when stderr is an interactive terminal (progress display). */
  interactive: boolean;
  /** Apply the config's `logging`; `--log-format`, `--log-level`, `--json`, `--verbose` and `--quiet` win over it. */
  configureLogging(logging: { format: 'text' | 'json' | 'auto'; level?: LogLevel }): void;
}

export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export function createOutput(opts: GlobalOptions, streams: Streams): Output {
  const envNoColor = streams.env.NO_COLOR !== undefined && streams.env.NO_COLOR !== '';
  const color = opts.color && !envNoColor && !opts.json && Boolean(streams.stdout.isTTY);
  const quiet = Boolean(opts.quiet);
  const resolve = (f: 'text' | 'json' | 'auto'): 'text' | 'json' => (f === 'auto' ? (streams.stderr.isTTY ? 'text' : 'json') : f);
  let format: 'text' | 'json' = opts.json ? 'json' : resolve(opts.logFormat ?? 'text');
  const levelFromFlags: LogLevel | undefined = opts.logLevel ?? (opts.verbose ? 'debug' : quiet ? 'error' : undefined);
  let level: LogLevel = levelFromFlags ?? 'info';
  const logger = createLogger({
    level: () => level,
    format: () => format,
    write: (line) => streams.stderr.write(line),
  });
  return {
    json: Boolean(opts.json),
    color,
    quiet,
    logger,
    interactive: Boolean(streams.stderr.isTTY) && !quiet && !opts.json,
    configureLogging(configured) {
      if (!opts.json && opts.logFormat === undefined) format = resolve(configured.format);
      if (levelFromFlags === undefined && configured.level) level = configured.level;
    },
    out(text, force) {
      if (quiet && !force) return;
      streams.stdout.write(redact(text.endsWith('\n') ? text : text + '\n'));
    },
    err(text) {
      streams.stderr.write(redact(text.endsWith('\n') ? text : text + '\n'));
    },
  };
}
