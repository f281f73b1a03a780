import { isUtf8 } from 'node:buffer';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { BindRequest, ExtendedRequest, FilterParser, PagedResultsControl, StatusCodeParser, UnbindRequest, SearchRequest } from 'ldapts';
import type { Entry } from 'ldapts';
import { noteSpelling } from './mapping.js';

/**
 * Paged searches for listings, on a connection of their own, decoding responses directly.
 *
 * ldapts builds an Attribute object per attribute holding both the raw buffers and the decoded
 * strings, then copies them into an entry object: at 100k entries that (and the garbage it makes)
 * cost several times what the server takes to send them. Requests are still encoded by ldapts's
 * message classes; only responses are decoded here, straight from the socket's bytes into the
 * entry shape ldapts gives (`{ dn, attr: string | string[] | Buffer | Buffer[] }`), except that
 * absent attributes are absent (ldapts adds requested ones as `[]`); the spellings the server uses
 * are noted for case-insensitive lookups (mapping.ts `Attrs`).
 *
 * One request at a time. Any LDAP result other than success is thrown as ldapts's ResultCodeError
 * subclass for that code; anything wrong with the connection or the bytes is a plain Error (a
 * connection error the listing may retry once).
 */

const PAGED_OID = '1.2.840.113556.1.4.319';
const EMPTY = Buffer.alloc(0);

/** Total size of the BER message starting at `pos`, or undefined while its header is incomplete. */
function messageLength(buf: Buffer, pos: number): number | undefined {
  if (buf.length - pos < 2) return undefined;
  if (buf[pos] !== 0x30) throw new ProtocolFault(`expected an LDAPMessage, got tag 0x${buf[pos]!.toString(16)}`);
  const first = buf[pos + 1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4) throw new ProtocolFault(`unsupported length form 0x${first.toString(16)}`);
  if (buf.length - pos < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i]!;
  return 2 + n + len;
}
const STARTTLS_OID = '1.3.6.1.4.1.1466.20037';

/** BER tags of the responses read here (RFC 4511). */
const TAG = { bindResponse: 0x61, searchEntry: 0x64, searchDone: 0x65, searchReference: 0x73, extendedResponse: 0x78, controls: 0xa0 } as const;

export interface FastSearchOptions {
  host: string;
  port: number;
  secure: boolean;
  startTLS: boolean;
  tlsOptions: ConnectionOptions | undefined;
  connectTimeout: number;
  operationTimeout: number;
  bindDN: string;
  password: string;
}

export interface PageRequest {
  base: string;
  scope: 'base' | 'one' | 'sub';
  filter: string;
  attributes: string[];
  explicitBufferAttributes: string[];
  pageSize: number;
}

interface LdapResult {
  status: number;
  errorMessage: string;
  matchedDN: string;
}

/** StartTLS refused or failed; `cause` holds why. */
export class StartTlsError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'StartTlsError';
  }
}

/** Thrown for malformed responses: a connection-level failure. */
class ProtocolFault extends Error {
  constructor(message: string) {
    super(`malformed LDAP response: ${message}`);
    this.name = 'ProtocolFault';
  }
}

/** A cursor over BER in one buffer. */
class Ber {
  constructor(
    readonly buf: Buffer,
    public pos: number,
  ) {}

  tag(): number {
    if (this.pos >= this.buf.length) throw new ProtocolFault('truncated (tag)');
    return this.buf[this.pos++]!;
  }

  length(): number {
    const first = this.buf[this.pos++];
    if (first === undefined) throw new ProtocolFault('truncated (length)');
    if (first < 0x80) return first;
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new ProtocolFault(`unsupported length form 0x${first.toString(16)}`);
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + this.buf[this.pos++]!;
    return len;
  }

  /** Reads a TLV expecting `tag`; returns [start, end) of its contents. */
  expect(tag: number, what: string): [number, number] {
    const t = this.tag();
    if (t !== tag) throw new ProtocolFault(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.toString(16)}`);
    const len = this.length();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.buf.length) throw new ProtocolFault(`${what}: truncated`);
    return [start, this.pos];
  }

  integer(tag = 0x02): number {
    const [s, e] = this.expect(tag, 'integer');
    let v = 0;
    for (let i = s; i < e; i++) v = v * 256 + this.buf[i]!;
    // Two's complement for negative values (message ids and codes are small and positive).
    if (e > s && this.buf[s]! & 0x80) v -= 2 ** (8 * (e - s));
    return v;
  }

  string(tag = 0x04): string {
    const [s, e] = this.expect(tag, 'string');
    return this.buf.toString('utf8', s, e);
  }
}

/** Decodes one value: a string when it is valid UTF-8 (and not asked as a buffer), else a copy of the bytes. */
function value(buf: Buffer, s: number, e: number, asBuffer: boolean): string | Buffer {
  if (asBuffer) return Buffer.from(buf.subarray(s, e));
  let ascii = true;
  for (let i = s; i < e; i++) {
    if (buf[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  // ASCII decodes as latin1: the same string, without a UTF-8 pass.
  if (ascii) return buf.toString('latin1', s, e);
  if (isUtf8(buf.subarray(s, e))) return buf.toString('utf8', s, e);
  return Buffer.from(buf.subarray(s, e));
}

function readResult(ber: Ber): LdapResult {
  const status = ber.integer(0x0a);
  const matchedDN = ber.string();
  const errorMessage = ber.string();
  return { status, matchedDN, errorMessage };
}

function resultError(result: LdapResult): Error {
  return StatusCodeParser.parse({ status: result.status, errorMessage: result.errorMessage, matchedDN: result.matchedDN } as never);
}

/** The paged-results cookie in a SearchResultDone's controls; empty when the listing is done. */
function pagedCookie(ber: Ber, end: number): Buffer | undefined {
  while (ber.pos < end) {
    const [cs, ce] = ber.expect(0x30, 'control');
    const c = new Ber(ber.buf, cs);
    const oid = c.string();
    if (c.pos < ce && ber.buf[c.pos] === 0x01) c.expect(0x01, 'criticality');
    if (oid !== PAGED_OID || c.pos >= ce) continue;
    // controlValue: OCTET STRING holding SEQUENCE { size INTEGER, cookie OCTET STRING }.
    const [vs] = c.expect(0x04, 'control value');
    const [ss] = new Ber(ber.buf, vs).expect(0x30, 'paged value');
    const inner = new Ber(ber.buf, ss);
    inner.integer();
    const [ks, ke] = inner.expect(0x04, 'cookie');
    return Buffer.from(ber.buf.subarray(ks, ke));
  }
  return undefined;
}

export class FastSearch {
  private buffer: Buffer = EMPTY;
  private nextId = 1;
  private closed: Error | undefined;
  /** A listing is running: one request at a time, so another listing needs its own connection. */
  inUse = false;
  private waiter: ((err?: Error) => void) | undefined;
  /** Decodes the messages of the request in flight; set per request. */
  private onMessage: ((tag: number, ber: Ber, end: number, id: number) => boolean) | undefined;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  static async open(o: FastSearchOptions): Promise<FastSearch> {
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const s = o.secure ? tlsConnect({ ...o.tlsOptions, host: o.host, port: o.port }) : netConnect(o.port, o.host);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error('Connection timeout'));
      }, o.connectTimeout);
      s.once(o.secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const conn = new FastSearch(socket);
    try {
      if (o.startTLS) {
        try {
          await conn.upgrade(o);
        } catch (err) {
          throw new StartTlsError(err);
        }
      }
      await conn.bind(o.bindDN, o.password, o.operationTimeout);
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  private receive(chunk: Buffer): void {
    try {
      let buf = chunk;
      let pos = 0;
      if (this.buffer.length) {
        // A message began in an earlier chunk: complete just that one by copying, then decode
        // the rest of this chunk in place (copying every chunk onto the leftover cost ~10 %).
        const need = messageLength(this.buffer, 0);
        if (need !== undefined && this.buffer.length + chunk.length >= need) {
          const take = need - this.buffer.length;
          const message = Buffer.concat([this.buffer, chunk.subarray(0, take)]);
          this.buffer = EMPTY;
          this.dispatch(message, 0);
          pos = take;
        } else {
          buf = Buffer.concat([this.buffer, chunk]);
          this.buffer = EMPTY;
        }
      }
      for (;;) {
        const need = messageLength(buf, pos);
        if (need === undefined || pos + need > buf.length) break;
        this.dispatch(buf, pos);
        pos += need;
      }
      this.buffer = pos >= buf.length ? EMPTY : buf.subarray(pos);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Decodes the LDAPMessage at `pos` (complete in `buf`) and hands it to the request in flight. */
  private dispatch(buf: Buffer, pos: number): void {
    const ber = new Ber(buf, pos);
    ber.tag();
    ber.length();
    const id = ber.integer();
    const tag = ber.tag();
    const opLen = ber.length();
    const opEnd = ber.pos + opLen;
    if (id === 0) throw new Error('the server ended the connection (notice of disconnection)');
    const done = this.onMessage ? this.onMessage(tag, ber, opEnd, id) : false;
    if (done) {
      const w = this.waiter;
      this.waiter = undefined;
      this.onMessage = undefined;
      w?.();
    }
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = err;
    this.socket.destroy();
    const w = this.waiter;
    this.waiter = undefined;
    w?.(err);
  }

  /** Sends one request and resolves when `handle` says its last response arrived. */
  private exchange(bytes: Buffer, handle: (tag: number, ber: Ber, end: number, id: number) => boolean, timeout: number, what: string): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`${what}: Operation timed out`)), timeout);
      this.onMessage = handle;
      this.waiter = (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      this.socket.write(bytes);
    });
  }

  private async bind(dn: string, password: string, timeout: number): Promise<void> {
    const messageId = this.nextId++;
    let result: LdapResult | undefined;
    await this.exchange(
      new BindRequest({ messageId, dn, password }).write(),
      (tag, ber) => {
        if (tag !== TAG.bindResponse) throw new ProtocolFault(`expected a bind response, got 0x${tag.toString(16)}`);
        result = readResult(ber);
        return true;
      },
      timeout,
      'bind',
    );
    if (result!.status !== 0) throw resultError(result!);
  }

  private async upgrade(o: FastSearchOptions): Promise<void> {
    const messageId = this.nextId++;
    let result: LdapResult | undefined;
    await this.exchange(
      new ExtendedRequest({ messageId, oid: STARTTLS_OID }).write(),
      (tag, ber) => {
        if (tag !== TAG.extendedResponse) throw new ProtocolFault(`expected an extended response, got 0x${tag.toString(16)}`);
        result = readResult(ber);
        return true;
      },
      o.operationTimeout,
      'StartTLS',
    );
    if (result!.status !== 0) throw resultError(result!);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    this.socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ ...o.tlsOptions, socket: plain, host: o.host });
      s.once('secureConnect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', reject);
    });
    this.attach(this.socket);
  }

  /**
   * Every entry of a paged search, one page at a time. The next page is asked for as soon as a
   * page's SearchResultDone names its cookie, before the page is handed out: the server then
   * produces page n+1 while the caller maps page n, instead of the two taking turns.
   */
  async *pages(req: PageRequest, operationTimeout: number): AsyncGenerator<Entry[]> {
    const filter = FilterParser.parseString(req.filter);
    const names = new AttributeNames(req.explicitBufferAttributes);
    if (this.inUse) throw new Error('a listing is already running on this connection');
    this.inUse = true;
    const page = (cookie: Buffer) => this.page(req, filter, names, cookie, operationTimeout);
    let current: Promise<{ entries: Entry[]; cookie: Buffer | undefined }> | undefined = page(Buffer.alloc(0));
    try {
      while (current) {
        const { entries, cookie }: { entries: Entry[]; cookie: Buffer | undefined } = await current;
        current = cookie ? page(cookie) : undefined;
        // The prefetched page may fail (connection dropped) while the caller is still mapping
        // this one: mark it handled now so the failure surfaces at the `await` above on the next
        // turn, as a clean read error, instead of as an unhandled rejection that ends the process.
        current?.catch(() => undefined);
        if (entries.length) yield entries;
      }
    } finally {
      // Left early (an error downstream, a consumer that stopped): a page may be in flight, and
      // this connection cannot take another request until it is answered. Drop it.
      if (current) {
        current.catch(() => undefined);
        this.fail(new Error('listing abandoned'));
      }
      this.inUse = false;
    }
  }

  private async page(
    req: PageRequest,
    filter: ReturnType<typeof FilterParser.parseString>,
    names: AttributeNames,
    cookie: Buffer,
    operationTimeout: number,
  ): Promise<{ entries: Entry[]; cookie: Buffer | undefined }> {
    const messageId = this.nextId++;
    const request = new SearchRequest({
      messageId,
      baseDN: req.base,
      scope: req.scope,
      filter,
      attributes: req.attributes,
      // Seconds the server may spend on one page; the client-side timeout below also applies.
      timeLimit: Math.ceil(operationTimeout / 1000),
      controls: [new PagedResultsControl({ value: { size: req.pageSize, cookie } })],
    });
    const entries: Entry[] = [];
    let result: LdapResult | undefined;
    let next: Buffer | undefined;
    await this.exchange(
      request.write(),
      (tag, ber, end, id) => {
        if (id !== messageId) throw new ProtocolFault(`response for message ${id} while waiting for ${messageId}`);
        if (tag === TAG.searchEntry) {
          entries.push(this.entry(ber, end, names));
          return false;
        }
        if (tag === TAG.searchReference) {
          ber.pos = end;
          return false;
        }
        if (tag !== TAG.searchDone) throw new ProtocolFault(`unexpected response 0x${tag.toString(16)} to a search`);
        result = readResult(ber);
        ber.pos = end;
        // Controls follow the protocol op inside the LDAPMessage.
        if (ber.pos < ber.buf.length && ber.buf[ber.pos] === TAG.controls) {
          const [cs, ce] = ber.expect(TAG.controls, 'controls');
          next = pagedCookie(new Ber(ber.buf, cs), ce);
        }
        return true;
      },
      operationTimeout,
      'SearchRequest',
    );
    if (result!.status !== 0) throw resultError(result!);
    return { entries, cookie: next && next.length ? next : undefined };
  }

  get isOpen(): boolean {
    return this.closed === undefined;
  }

  private entry(ber: Ber, end: number, names: AttributeNames): Entry {
    const buf = ber.buf;
    let len = header(buf, ber.pos, 0x04);
    let p = headerEnd;
    const entry: Entry = { dn: buf.toString('utf8', p, p + len) };
    p += len;
    len = header(buf, p, 0x30);
    p = headerEnd;
    const attrsEnd = p + len;
    while (p < attrsEnd) {
      len = header(buf, p, 0x30);
      p = headerEnd;
      const attrEnd = p + len;
      len = header(buf, p, 0x04);
      p = headerEnd;
      const name = names.intern(buf, p, p + len);
      p += len;
      len = header(buf, p, 0x31);
      p = headerEnd;
      const valuesEnd = p + len;
      let single: string | Buffer | undefined;
      let many: (string | Buffer)[] | undefined;
      while (p < valuesEnd) {
        len = header(buf, p, 0x04);
        p = headerEnd;
        const v = value(buf, p, p + len, name.binary);
        p += len;
        if (single === undefined && many === undefined) single = v;
        else if (many === undefined) many = [single!, v];
        else many.push(v);
      }
      entry[name.name] = (many ?? (single === undefined ? [] : single)) as never;
      p = attrEnd;
    }
    ber.pos = end;
    return entry;
  }

  close(): void {
    if (this.closed) return;
    try {
      this.socket.write(new UnbindRequest({ messageId: this.nextId++ }).write());
    } catch {
      // Closing anyway.
    }
    this.closed = new Error('connection closed');
    this.socket.destroy();
  }
}

interface AttributeName {
  name: string;
  binary: boolean;
}

/**
 * Attribute names of one search, decoded once: every entry repeats them, and a string per name
 * per entry was a large share of the garbage.
 */
class AttributeNames {
  private readonly byHash = new Map<number, { bytes: Buffer; info: AttributeName }[]>();
  private readonly asBuffer: ReadonlySet<string>;

  constructor(explicitBuffer: readonly string[]) {
    this.asBuffer = new Set(explicitBuffer);
  }

  intern(buf: Buffer, s: number, e: number): AttributeName {
    let h = e - s;
    for (let i = s; i < e; i++) h = (Math.imul(h, 31) + buf[i]!) | 0;
    let bucket = this.byHash.get(h);
    if (bucket) {
      for (const c of bucket) if (sameBytes(c.bytes, buf, s, e)) return c.info;
    } else this.byHash.set(h, (bucket = []));
    const name = buf.toString('utf8', s, e);
    const info = { name, binary: this.asBuffer.has(name) || /;binary$/i.test(name) };
    bucket.push({ bytes: Buffer.from(buf.subarray(s, e)), info });
    noteSpelling(name);
    return info;
  }
}

/** Short byte strings compared in JS: cheaper than a native call per attribute per entry. */
function sameBytes(a: Buffer, buf: Buffer, s: number, e: number): boolean {
  if (a.length !== e - s) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[s + i]) return false;
  return true;
}

/** Position after the tag and length read by the last `header` call. */
let headerEnd = 0;

/** Reads a tag (which must be `tag`) and a length at `pos`; returns the length, sets headerEnd. */
function header(buf: Buffer, pos: number, tag: number): number {
  if (buf[pos] !== tag) throw new ProtocolFault(`expected tag 0x${tag.toString(16)}, got 0x${(buf[pos] ?? 0).toString(16)}`);
  let p = pos + 1;
  let len = buf[p++];
  if (len === undefined) throw new ProtocolFault('truncated');
  if (len >= 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new ProtocolFault(`unsupported length form 0x${len.toString(16)}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  headerEnd = p;
  return len;
}
