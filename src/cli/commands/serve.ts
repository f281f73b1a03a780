import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, UsageError } from '../../core/errors.js';
import { registerSecret } from '../../core/secrets.js';
import { parseListen, serverSchema } from '../../config/schema.js';
import type { LoadedConfig, ServerConfig } from '../../config/types.js';
import { openConnector } from '../../engine/connectors.js';
import type { Logger } from '../../core/logger.js';
import type { Backend } from '../../server/backend.js';
import { ConnectorBackend } from '../../server/connector-backend.js';
import { EmbeddedBackend } from '../../server/embedded-backend.js';
import { startScimServer } from '../../server/http.js';
import type { TokenEntry } from '../../server/auth.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { loadOnly, openContext } from '../context.js';
import type { EngineContext } from '../../engine/run-job.js';
import type { MetricsServer } from '../../ops/metrics-server.js';
import { shutdownSignal } from '../shutdown.js';
import { startMetricsIfConfigured, startScheduling, type Scheduling } from './schedule.js';
import type { GlobalOptions, Output } from '../output.js';

export interface ServeFlags {
  listen?: string;
  /** Also run the jobs that have a `schedule:` in this process. */
  schedule?: boolean;
}

/** Shorter tokens can be guessed; the config schema accepts them so `validate` can say so here. */
const MIN_TOKEN_LENGTH = 16;

function tokensOf(server: ServerConfig, env: NodeJS.ProcessEnv): TokenEntry[] {
  const tokens: TokenEntry[] = server.tokens.map((t, i) => ({ name: `tokens[${i}]`, value: t.value, readOnly: t.readOnly }));
  const fromEnv = env.SCIM_SYNC_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') tokens.push({ name: 'SCIM_SYNC_TOKEN', value: fromEnv, readOnly: false });
  for (const t of tokens) {
    registerSecret(t.value);
    if (t.value.length < MIN_TOKEN_LENGTH) {
      const where = t.name === 'SCIM_SYNC_TOKEN' ? 'SCIM_SYNC_TOKEN' : `server.${t.name}.value`;
      throw new UsageError(`${where}: a bearer token must be at least ${MIN_TOKEN_LENGTH} characters long`);
    }
  }
  if (tokens.length === 0) {
    throw new UsageError('serve needs a bearer token: set server.tokens in the configuration, or SCIM_SYNC_TOKEN in the environment');
  }
  return tokens;
}

async function tlsOf(config: LoadedConfig, server: ServerConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!server.tls) return undefined;
  const read = async (key: 'cert' | 'key') => {
    const file = path.resolve(config.configDir, server.tls![key]);
    try {
      return await readFile(file);
    } catch (err) {
      throw new UsageError(`server.tls.${key}: cannot read ${file}: ${errorMessage(err)}`);
    }
  };
  return { cert: await read('cert'), key: await read('key') };
}

/**
 * The directory `serve` exposes: the embedded directory (read-write unless it or the server is
 * configured read-only), or any other connector that can read, served read-only from a cached
 * listing.
 */
export async function openServedDirectory(config: LoadedConfig, server: ServerConfig, logger: Logger): Promise<Backend> {
  const entry = config.connectors[server.directory];
  if (!entry) throw new UsageError(`server.directory: no connector named "${server.directory}" in the configuration`);
  if (entry.type === 'embedded') {
    const readOnly = server.readOnly || (entry.config as { readOnly?: boolean } | undefined)?.readOnly === true;
    return EmbeddedBackend.open(config.statePath, !readOnly);
  }
  const opened = openConnector(config, server.directory, logger, (w) => logger.warn(`${server.directory}: ${w.message}`));
  if (!opened.connector.reader) {
    await opened.connector.close();
    throw new UsageError(`server.directory: connector "${server.directory}" (type ${entry.type}) cannot be read, so it cannot be served`);
  }
  return new ConnectorBackend(opened.connector, `connector ${server.directory} (${entry.type})`);
}

/**
 * `serve`: the configured directory over SCIM 2.0 until SIGTERM/SIGINT, then a graceful stop
 * (requests in flight finish) and exit 0. Scheduled jobs in the same process (`--schedule`) wait
 * for the scheduler.
 */
export async function serveCommand(flags: ServeFlags, global: GlobalOptions, output: Output): Promise<ExitCode> {
  const config = await loadOnly(global);
  for (const w of config.warnings) output.logger.warn(w);
  const server: ServerConfig = config.server ?? serverSchema.parse({});
  const listenText = flags.listen ?? server.listen;
  const listen = parseListen(listenText);
  if (!listen) throw new UsageError(`--listen: expected host:port, e.g. 127.0.0.1:8080, got "${listenText}"`);
  const tokens = tokensOf(server, process.env);
  const tls = await tlsOf(config, server);
  const directory = await openServedDirectory(config, server, output.logger);
  let running;
  try {
    running = await startScimServer({
      backend: directory,
      tokens,
      host: listen.host,
      port: listen.port,
      basePath: server.basePath,
      ...(tls ? { tls } : {}),
      maxBodyBytes: server.maxBodyBytes,
      maxResults: server.maxResults,
      bulk: server.bulk,
      logger: output.logger,
    });
  } catch (err) {
    await directory.close();
    throw new UsageError(`cannot listen on ${listenText}: ${errorMessage(err)}`);
  }
  let ops: EngineContext & { close(): void } | undefined;
  let scheduling: Scheduling | undefined;
  let metrics: MetricsServer | undefined;
  let closed = false;
  try {
    // Run history (for /metrics) and the scheduled jobs share the state file with the served
    // directory; SQLite's WAL lets them all work at once.
    if (flags.schedule || config.operations.metrics.listen) ops = await openContext(global, output);
    if (ops) metrics = await startMetricsIfConfigured(ops);
    if (flags.schedule && ops) scheduling = startScheduling(ops);
    const shutdown = shutdownSignal();
    output.err(`Serving SCIM 2.0 at ${running.url} (${directory.description}, ${directory.writable ? 'read-write' : 'read-only'}). Stop with SIGTERM or Ctrl-C.`);
    if (!shutdown.aborted) await new Promise<void>((resolve) => shutdown.addEventListener('abort', () => resolve(), { once: true }));
    output.err('Stopping: finishing requests in flight' + (scheduling?.busy().length ? ` and the changes in flight of ${scheduling.busy().join(', ')}` : '') + '.');
    await Promise.all([running.close(), scheduling?.stop()]);
    closed = true;
    output.err('Stopped.');
    return EXIT.ok;
  } finally {
    // On an error (say, --schedule with nothing scheduled) the listening socket must not keep the
    // process alive after main() returned its exit code.
    if (!closed) await Promise.all([running.close(), scheduling?.stop()]);
    await metrics?.close();
    ops?.close();
  }
}
