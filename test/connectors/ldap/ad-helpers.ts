/**
 * Small helpers for the AD suites: admin connections and bulk user creation on a running
 * test/support/samba-ad.ts instance, with plain ldapts (no connector code involved, so the
 * connector's tests check it against data it did not write).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Attribute, Change, Client } from 'ldapts';
import type { SambaAd } from '../../support/samba-ad.js';

const run = promisify(execFile);

export async function admin(ad: SambaAd, tls = false): Promise<Client> {
  const client = tls
    ? new Client({ url: ad.ldapsUrl, tlsOptions: { ca: await readFile(ad.caFile) } })
    : new Client({ url: ad.url });
  await client.bind(ad.bindDN, ad.bindPassword);
  return client;
}

export async function highestCommittedUSN(client: Client): Promise<number> {
  const { searchEntries } = await client.search('', { scope: 'base', attributes: ['highestCommittedUSN'] });
  const usn = Number(searchEntries[0]?.highestCommittedUSN);
  if (!Number.isSafeInteger(usn)) throw new Error(`root DSE without highestCommittedUSN: ${JSON.stringify(searchEntries[0])}`);
  return usn;
}

export function replace(type: string, ...values: (string | Buffer)[]): Change {
  const v = values.every((x) => typeof x === 'string') ? (values as string[]) : values.map((x) => Buffer.from(x));
  return new Change({ operation: 'replace', modification: new Attribute({ type, values: v }) });
}

export function addValues(type: string, values: string[]): Change {
  return new Change({ operation: 'add', modification: new Attribute({ type, values }) });
}

export function deleteValues(type: string, values: string[]): Change {
  return new Change({ operation: 'delete', modification: new Attribute({ type, values }) });
}

export async function addOu(client: Client, dn: string): Promise<void> {
  await client.add(dn, { objectClass: ['top', 'organizationalUnit'] });
}

/** A user created the way an LDAP tool would (no password: Samba makes it UAC 546, disabled). */
export async function addUser(client: Client, ou: string, name: string, extra: Record<string, string | string[]> = {}): Promise<string> {
  const dn = `CN=${name},${ou}`;
  await client.add(dn, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    sAMAccountName: name,
    userPrincipalName: `${name}@example.org`,
    ...extra,
  });
  return dn;
}

/**
 * Creates `count` users named `${prefix}NNNN` with `connections` clients adding in parallel.
 * Returns their DNs in creation order.
 */
export async function addUsers(ad: SambaAd, ou: string, prefix: string, count: number, connections = 4): Promise<string[]> {
  const clients = await Promise.all(Array.from({ length: connections }, () => admin(ad)));
  const dns: string[] = new Array(count);
  let next = 0;
  try {
    await Promise.all(
      clients.map(async (c) => {
        for (let i = next++; i < count; i = next++) {
          dns[i] = await addUser(c, ou, `${prefix}${String(i).padStart(4, '0')}`);
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.unbind()));
  }
  return dns;
}

/** `samba-tool user show NAME` against the running instance's database, as an admin would run it. */
export async function sambaToolUserShow(ad: SambaAd, name: string): Promise<Record<string, string>> {
  const { stdout } = await run('/usr/bin/samba-tool', [
    'user', 'show', name, '-s', join(ad.dir, 'etc', 'smb.conf'), '-H', join(ad.dir, 'private', 'sam.ldb'),
  ]);
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\w+): (.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** OpenLDAP's ldapsearch (a standard client) as admin: the raw LDIF output with its summary. */
export async function ldapsearch(ad: SambaAd, filter: string, ...attributes: string[]): Promise<string> {
  const { stdout } = await run('/usr/bin/ldapsearch', [
    '-x', '-H', ad.url, '-D', ad.bindDN, '-w', ad.bindPassword, '-b', ad.baseDN, '-s', 'sub', filter, ...(attributes.length ? attributes : ['1.1']),
  ]);
  return stdout;
}
