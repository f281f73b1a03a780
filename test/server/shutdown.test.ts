/** Graceful stop: a request already being received when the stop begins is still answered. */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ADMIN, startTestServer } from './helpers.js';

describe('graceful shutdown', () => {
  it('finishes a request in flight, refuses new connections, then closes', async () => {
    const srv = await startTestServer();
    const url = new URL(srv.url);
    const body = JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'late@example.com' });
    const socket = connect(Number(url.port), url.hostname);
    let response = '';
    socket.on('data', (d) => (response += d.toString()));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Headers and half the body: the request has started but cannot be answered yet.
    socket.write(
      `POST ${url.pathname}/Users HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/scim+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`,
    );
    while (srv.server.inFlight() === 0) await new Promise((r) => setTimeout(r, 10));
    let closed = false;
    const closing = srv.server.close(10_000).then(() => (closed = true));
    const refused = await new Promise<string>((resolve) => {
      const other = connect(Number(url.port), url.hostname);
      other.on('connect', () => resolve('connected'));
      other.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(closed).toBe(false);
    socket.write(body.slice(20));
    await closing;
    await ended;
    expect(response).toMatch(/^HTTP\/1\.1 201 Created/);
    expect(response).toContain('"userName":"late@example.com"');
    expect(srv.store.findUserByUserName('late@example.com')).toBeDefined();
    await srv.close();
  });
});
