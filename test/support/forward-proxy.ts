/**
 * A real forward proxy for tests, the two ways clients use one: `CONNECT host:port` tunnels (https
 * targets) and absolute-URI requests (`GET http://host/path`, http targets). It records every
 * request it handled and can demand `Proxy-Authorization` (407 otherwise), so a test can prove the
 * client went through it, with the right credentials, or bypassed it (NO_PROXY).
 *
 * Written here rather than taken from npm (`proxy`, `proxy-chain` exist) to keep package.json out
 * of a change shared by several people, and because ~100 lines of node:http cover what is tested.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect as netConnect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export interface ProxiedRequest {
  /** `CONNECT` for tunnels, else the forwarded method. */
  method: string;
  /** `host:port` for CONNECT, the absolute URI otherwise. */
  target: string;
  proxyAuthorization: string | undefined;
}

export interface ForwardProxy {
  /** `http://127.0.0.1:PORT` (no credentials). */
  url: string;
  /** The same URL with the required credentials in it, when `auth` was given. */
  urlWithAuth: string;
  seen: ProxiedRequest[];
  close(): Promise<void>;
}

export async function startForwardProxy(opts: { auth?: { username: string; password: string } } = {}): Promise<ForwardProxy> {
  const seen: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const expected = opts.auth ? `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}` : undefined;

  const authorized = (req: IncomingMessage): boolean => expected === undefined || req.headers['proxy-authorization'] === expected;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '';
    seen.push({ method: req.method ?? 'GET', target, proxyAuthorization: req.headers['proxy-authorization'] });
    if (!authorized(req)) {
      req.resume();
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"', 'content-length': 0 });
      res.end();
      return;
    }
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      // An origin-form request means the client talked to the proxy as if it were the server.
      req.resume();
      res.writeHead(400, { 'content-length': 0 });
      res.end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = httpRequest(
      { host: url.hostname, port: url.port || 80, method: req.method, path: url.pathname + url.search, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
      res.end();
    });
    req.pipe(upstream);
  });

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    seen.push({ method: 'CONNECT', target, proxyAuthorization: req.headers['proxy-authorization'] });
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (!authorized(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = target.split(':');
    const upstream = netConnect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => {
      if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    client.on('close', () => upstream.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const urlWithAuth = opts.auth
    ? `http://${encodeURIComponent(opts.auth.username)}:${encodeURIComponent(opts.auth.password)}@127.0.0.1:${port}`
    : url;
  return {
    url,
    urlWithAuth,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
