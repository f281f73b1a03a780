import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../core/errors.js';

export interface MetricsServer {
  /** `host:port` actually bound (port 0 in config picks a free one). */
  address: string;
  close(): Promise<void>;
}

/** "127.0.0.1:9464", "[::1]:9464", ":9464" (all interfaces) → host and port. */
export function parseListen(listen: string, what: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${what}: expected host:port (e.g. 127.0.0.1:9464), got "${listen}"`);
  const host = m[1] ?? (m[2] || undefined);
  return { host, port };
}

/**
 * Serves GET /metrics in the Prometheus text format for `schedule` (`metrics.listen`). The text is
 * rendered per request from state, so it is as fresh as the last finished run.
 */
export async function startMetricsServer(listen: string, render: () => string): Promise<MetricsServer> {
  const { host, port } = parseListen(listen, 'metrics.listen');
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' }).end(path === '/metrics' ? 'method not allowed\n' : 'not found; metrics are at /metrics\n');
      return;
    }
    let body: string;
    try {
      body = render();
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot read run history: ${String(err)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new UsageError(`metrics.listen ${listen}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    address: `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
