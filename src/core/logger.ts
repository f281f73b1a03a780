import { redact } from './secrets.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Connectors and the engine log through this; the CLI decides where and how lines appear. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface StreamLoggerOptions {
  /** Read on every line, like `format`. */
  level: LogLevel | (() => LogLevel);
  /** Read on every line, so the CLI can switch it once the config (`logging.format`) is loaded. */
  format: 'text' | 'json' | (() => 'text' | 'json');
  write: (line: string) => void;
  /** Injectable for tests. */
  now?: () => Date;
}

export function createLogger(opts: StreamLoggerOptions): Logger {
  const format = typeof opts.format === 'function' ? opts.format : () => opts.format as 'text' | 'json';
  const now = opts.now ?? (() => new Date());
  const threshold = typeof opts.level === 'function' ? opts.level : () => opts.level as LogLevel;
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[threshold()]) return;
    if (format() === 'json') {
      // One JSON object per line, for journald, log shippers and `jq`.
      opts.write(redact(JSON.stringify({ time: now().toISOString(), level, msg, ...fields })) + '\n');
    } else {
      const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
      opts.write(redact(`${level === 'info' ? '' : level + ': '}${msg}${extra}`) + '\n');
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
