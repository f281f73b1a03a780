import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { Attribute, Change, Client, ResultCodeError } from 'ldapts';
import type { Control, Entry, SearchOptions } from 'ldapts';
import { ConnectorError, RemoteError, errorMessage } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { redact } from '../../src/core/secrets.js';
import type { LdapConfig } from './config.js';
import { FastSearch, StartTlsError } from './fast-search.js';

/**
 * One bound LDAP connection, re-established on demand.
 *
 * ldapts reconnects a dropped socket by itself on the next operation but does not bind again, so
 * that operation would run anonymously (a search then returns the anonymous view: a partial
 * listing). Each ldapts Client here may open exactly one connection; after a drop the next
 * operation gets a fresh client that connects, upgrades (StartTLS) and binds before anything else.
 */

export type Scope = 'base' | 'one' | 'sub';

/** LDAP result codes worth a retry later (busy, unavailable, unwilling under load, timeouts). */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([3, 51, 52]);

/** The server's answer in one line: `LDAP 68 (AlreadyExistsError): <server text>`. */
export function describeLdapError(err: unknown): string {
  if (err instanceof ResultCodeError) {
    // ldapts appends " Code: 0x.." to the server's diagnostic message; the code is named already.
    const msg = err.message.replace(/\s*Code: 0x[0-9a-f]+\s*$/i, '').trim();
    const text = msg && msg !== err.name ? `: ${msg}` : '';
    return redact(`LDAP ${err.code} (${err.name})${text}`);
  }
  return redact(errorMessage(err));
}

/** A failure of the connection itself (not an LDAP result code). */
export function isConnectionError(err: unknown): boolean {
  return !(err instanceof ResultCodeError) && err instanceof Error;
}

export function resultCode(err: unknown): number | undefined {
  return err instanceof ResultCodeError ? err.code : undefined;
}

/** Wraps any failure of an operation on one object into a RemoteError naming it. */
export function remoteError(object: string, err: unknown): RemoteError {
  if (err instanceof RemoteError) return err;
  const code = resultCode(err);
  const transient = code === undefined ? isConnectionError(err) : TRANSIENT_CODES.has(code);
  return new RemoteError(object, describeLdapError(err), code, transient);
}

export interface ClientSettings {
  connectorName: string;
  configDir: string;
  logger: Logger;
}

export class LdapConnection {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  /** Listings run on a connection of their own (see fast-search.ts). */
  private lister: FastSearch | undefined;
  private readonly port: number;
  private readonly tlsOptions: ConnectionOptions | undefined;
  private readonly secure: boolean;
  readonly url: string;
  private readonly host: string;

  constructor(
    private readonly config: LdapConfig,
    private readonly settings: ClientSettings,
  ) {
    this.url = config.url.replace(/\/+$/, '');
    this.secure = this.url.toLowerCase().startsWith('ldaps:');
    const parsed = new URL(this.url);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    this.host = host;
    this.port = parsed.port ? Number(parsed.port) : this.secure ? 636 : 389;
    if (this.secure || config.startTLS) {
      const opts: ConnectionOptions = {};
      if (config.tls?.caFile) opts.ca = readFileSync(resolve(settings.configDir, config.tls.caFile));
      if (config.tls?.insecure) {
        opts.rejectUnauthorized = false;
        settings.logger.warn(`LDAP ${this.url}: TLS certificate verification is off (tls.insecure)`);
      }
      // Node checks an IP literal against IP SANs only when servername is not set to it.
      if (!/^[0-9.]+$|:/.test(host)) opts.servername = host;
      this.tlsOptions = opts;
    }
  }

  get encrypted(): boolean {
    return this.secure || this.config.startTLS;
  }

  /** A connected, bound client; connects and binds when there is none (or the last one dropped). */
  async bound(): Promise<Client> {
    if (this.client?.isBound) return this.client;
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const old = this.client;
    this.client = undefined;
    if (old) await old.unbind().catch(() => undefined);
    let opened = false;
    // A Client may open one connection: ldapts would otherwise reconnect unauthenticated.
    const once = () => {
      if (opened) throw new Error('connection lost');
      opened = true;
    };
    const tlsOptions = this.tlsOptions;
    const client = new Client({
      url: this.url,
      timeout: this.config.timeouts.operation,
      connectTimeout: this.config.timeouts.connect,
      // Only for ldaps://: ldapts 8 uses TLS for ldap:// too when tlsOptions are given.
      ...(this.secure ? { tlsOptions } : {}),
      createConnection: ((port: number, host: string) => {
        once();
        return netConnect(port, host);
      }) as unknown as typeof netConnect,
      createSecureConnection: ((...args: unknown[]) => {
        // An upgrade (StartTLS) passes the existing socket; a fresh ldaps:// connection does not.
        const first = args[0];
        if (!(typeof first === 'object' && first !== null && 'socket' in first)) once();
        return (tlsConnect as (...a: unknown[]) => ReturnType<typeof tlsConnect>)(...args);
      }) as unknown as typeof tlsConnect,
    });
    try {
      // The upgrade reuses the socket, so the name to verify the certificate against is given here.
      if (this.config.startTLS) await client.startTLS({ ...tlsOptions, host: this.host });
    } catch (err) {
      await client.unbind().catch(() => undefined);
      throw this.startTlsError(err);
    }
    try {
      await client.bind(this.config.bindDN, this.config.bindPassword);
    } catch (err) {
      await client.unbind().catch(() => undefined);
      throw this.openError(err);
    }
    this.client = client;
    return client;
  }

  /** A StartTLS failure, unless the server could not be reached at all. */
  private startTlsError(err: unknown): ConnectorError {
    if (resultCode(err) === undefined && /ECONNREFUSED|EHOSTUNREACH|ENOTFOUND|Connection timeout/i.test(errorMessage(err))) return this.openError(err);
    return new ConnectorError(this.settings.connectorName, `StartTLS with ${this.url} failed: ${describeLdapError(err)}`);
  }

  /** Why connecting or binding failed, naming the URL and bind DN, never the password. */
  private openError(err: unknown): ConnectorError {
    const code = resultCode(err);
    if (code === undefined) return new ConnectorError(this.settings.connectorName, `cannot connect to ${this.url}: ${describeLdapError(err)}`);
    const why = code === 49 ? 'invalid credentials' : describeLdapError(err);
    return new ConnectorError(this.settings.connectorName, `bind to ${this.url} as ${this.config.bindDN} failed: ${redact(why)}${code === 49 ? ' (LDAP 49)' : ''}`);
  }

  /** Drop the current connections; the next operation opens new ones. */
  async reset(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.lister?.close();
    this.lister = undefined;
    if (c) await c.unbind().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.reset();
  }

  private async openLister(): Promise<FastSearch> {
    try {
      return await FastSearch.open({
        host: this.host,
        port: this.port,
        secure: this.secure,
        startTLS: this.config.startTLS,
        tlsOptions: this.tlsOptions,
        connectTimeout: this.config.timeouts.connect,
        operationTimeout: this.config.timeouts.operation,
        bindDN: this.config.bindDN,
        password: this.config.bindPassword,
      });
    } catch (err) {
      throw err instanceof StartTlsError ? this.startTlsError(err.cause) : this.openError(err);
    }
  }

  /**
   * Pages of entries, on the listing connection (a second one while that is busy with another
   * listing, closed afterwards). Not retried here: the reader decides how a listing restarts.
   */
  async *pages(base: string, options: { scope: Scope; filter: string; attributes: string[]; explicitBufferAttributes: string[] }): AsyncGenerator<Entry[]> {
    let lister = this.lister?.isOpen && !this.lister.inUse ? this.lister : undefined;
    const shared = lister !== undefined || !this.lister?.inUse;
    lister ??= await this.openLister();
    if (shared) this.lister = lister;
    try {
      yield* lister.pages({ base, ...options, pageSize: this.config.pageSize }, this.config.timeouts.operation);
    } catch (err) {
      if (isConnectionError(err)) lister.close();
      throw err;
    } finally {
      if (!shared) lister.close();
    }
  }

  /** A complete, small search (no paging): base lookups, anchor batches. */
  async search(base: string, options: SearchOptions, controls?: Control[]): Promise<Entry[]> {
    const client = await this.bound();
    try {
      return (await client.search(base, options, controls)).searchEntries;
    } catch (err) {
      if (isConnectionError(err)) await this.reset();
      throw err;
    }
  }

  private async write<T>(op: (c: Client) => Promise<T>): Promise<T> {
    const client = await this.bound();
    try {
      return await op(client);
    } catch (err) {
      // Writes are not retried (an add may have happened); the next operation reconnects.
      if (isConnectionError(err)) await this.reset();
      throw err;
    }
  }

  add(dn: string, attributes: Attribute[] | Record<string, string[] | string>): Promise<void> {
    return this.write((c) => c.add(dn, attributes));
  }

  modify(dn: string, changes: Change[], controls?: Control[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    return this.write((c) => c.modify(dn, changes, controls));
  }

  modifyDN(dn: string, newDN: string): Promise<void> {
    return this.write((c) => c.modifyDN(dn, newDN));
  }

  del(dn: string): Promise<void> {
    return this.write((c) => c.del(dn));
  }

  /** The root DSE's attributes. */
  async rootDSE(attributes: string[]): Promise<Entry | undefined> {
    return (await this.search('', { scope: 'base', filter: '(objectClass=*)', attributes }))[0];
  }
}

/** An ldapts modification replacing (or, with no values, removing) one attribute. */
export function replace(type: string, values: string[] | Buffer[]): Change {
  return new Change({ operation: 'replace', modification: new Attribute({ type, values }) });
}

export function addValues(type: string, values: string[]): Change {
  return new Change({ operation: 'add', modification: new Attribute({ type, values }) });
}

export function deleteValues(type: string, values: string[]): Change {
  return new Change({ operation: 'delete', modification: new Attribute({ type, values }) });
}
