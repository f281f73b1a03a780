import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../core/errors.js';
import { parseListen } from '../config/schema.js';

export interface MetricsServer {
  /** `host:port` actually bound (port 0 in config picks a free one). */
  address: string;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics in the Prometheus text format for `schedule` (`metrics.listen`). The text is
 * rendered per request from state, so it is as fresh as the last finished run.
 */
export async function startMetricsServer(listen: string, render: () => string): Promise<MetricsServer> {
  // The config schema checked the form already (metrics.listen).
  const parsed = parseListen(listen);
  if (!parsed) throw new UsageError(`metrics.listen: expected host:port (e.g. 127.0.0.1:9464), got "${listen}"`);
  const { host, port } = parsed;
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
