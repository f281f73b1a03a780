import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { afterAll, describe, expect, it } from 'vitest';
import {
  SAMBA_HOOK_TIMEOUT,
  acquireLock,
  assertPortsFree,
  cacheRoot,
  startSambaAd,
  stopLeftover,
  type SambaAd,
} from '../support/samba-ad.js';

async function rootDse(url: string, ca?: Buffer): Promise<Record<string, unknown>> {
  const client = new Client(ca ? { url, tlsOptions: { ca } } : { url });
  try {
    const { searchEntries } = await client.search('', { scope: 'base', attributes: ['*', 'highestCommittedUSN'] });
    return searchEntries[0]!;
  } finally {
    await client.unbind();
  }
}

async function exists(ad: SambaAd, dn: string): Promise<boolean> {
  const client = new Client({ url: ad.url });
  try {
    await client.bind(ad.bindDN, ad.bindPassword);
    const { searchEntries } = await client.search(dn, { scope: 'base', attributes: ['dn'] });
    return searchEntries.length === 1;
  } catch (e) {
    if ((e as Error).name === 'NoSuchObjectError') return false;
    throw e;
  } finally {
    await client.unbind();
  }
}

describe('samba-ad harness', () => {
  let ad: SambaAd | undefined;
  afterAll(async () => {
    await ad?.stop();
  }, SAMBA_HOOK_TIMEOUT);

  it('starts a DC that accepts simple binds on ldap and ldaps and serves the root DSE', async () => {
    ad = await startSambaAd();
    expect(ad.baseDN).toBe('DC=example,DC=org');
    const ca = await readFile(ad.caFile);
    for (const url of [ad.url, ad.ldapsUrl]) {
      const client = new Client(url.startsWith('ldaps') ? { url, tlsOptions: { ca } } : { url });
      await client.bind(ad.bindDN, ad.bindPassword);
      const { searchEntries } = await client.search(ad.baseDN, { scope: 'base', attributes: ['objectClass'] });
      expect(searchEntries[0]?.objectClass).toContain('domainDNS');
      await client.unbind();
    }
    const dse = await rootDse(ad.url);
    expect(Number(dse.highestCommittedUSN)).toBeGreaterThan(0);
    expect(dse.defaultNamingContext).toBe('DC=example,DC=org');
    // A wrong password is refused (the DC really checks credentials).
    const bad = new Client({ url: ad.url });
    await expect(bad.bind(ad.bindDN, 'wrong')).rejects.toMatchObject({ code: 49 }); // invalidCredentials
    await bad.unbind();
  }, SAMBA_HOOK_TIMEOUT);

  it('restores a pristine directory on every start', async () => {
    ad ??= await startSambaAd();
    const before = Number((await rootDse(ad.url)).highestCommittedUSN);
    const ou = `OU=Scratch,${ad.baseDN}`;
    const client = new Client({ url: ad.url });
    await client.bind(ad.bindDN, ad.bindPassword);
    await client.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: 'Scratch' });
    await client.unbind();
    expect(await exists(ad, ou)).toBe(true);
    expect(Number((await rootDse(ad.url)).highestCommittedUSN)).toBeGreaterThan(before);
    await ad.stop();

    ad = await startSambaAd();
    expect(await exists(ad, ou)).toBe(false);
    expect(Number((await rootDse(ad.url)).highestCommittedUSN)).toBe(before);
  }, SAMBA_HOOK_TIMEOUT);

  it('refuses a second start in the same process', async () => {
    ad ??= await startSambaAd();
    await expect(startSambaAd()).rejects.toThrow(/still running/);
  }, SAMBA_HOOK_TIMEOUT);

  it('stop leaves no process behind and frees the ports', async () => {
    ad ??= await startSambaAd();
    const pid = Number((await readFile(join(cacheRoot(), 'samba.pid'), 'utf8')).trim());
    await ad.stop();
    ad = undefined;
    await expect(readFile(`/proc/${pid}/stat`, 'utf8')).rejects.toThrow(/ENOENT/);
    // Holding the lock so no other worker's Samba can be on the ports while we look.
    const lock = await acquireLock(join(cacheRoot(), 'lock'));
    try {
      await assertPortsFree();
    } finally {
      await lock.release();
    }
  }, SAMBA_HOOK_TIMEOUT);

  it('stops a Samba left running by a dead worker, and nothing that is not ours', async () => {
    const root = cacheRoot();
    const lock = await acquireLock(join(root, 'lock'));
    const state = async (pid: number) => (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).replace(/^.*\) /s, '')[0];
    // Stand-ins: one holding a file of our instance dir open (as an orphaned samba holds its
    // databases; samba's command line is its process title, so it names nothing), one not.
    await mkdir(join(root, 'instance', 'log'), { recursive: true });
    const idle = "if (process.env.HOLD) require('fs').openSync(process.env.HOLD, 'a'); console.log('ready'); setTimeout(() => {}, 300_000)";
    const decoy = (env: Record<string, string>) => spawn(process.execPath, ['-e', idle], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } });
    const ours = decoy({ HOLD: join(root, 'instance', 'log', 'decoy.log') });
    const theirs = decoy({});
    try {
      await Promise.all([ours, theirs].map((p) => once(p.stdout!, 'data')));
      await writeFile(join(root, 'samba.pid'), `${ours.pid}\n`);
      const exited = once(ours, 'exit');
      await stopLeftover(root);
      await exited;
      await expect(readFile(join(root, 'samba.pid'))).rejects.toThrow(/ENOENT/);

      await writeFile(join(root, 'samba.pid'), `${theirs.pid}\n`);
      await stopLeftover(root);
      expect(theirs.exitCode).toBeNull();
      expect(['R', 'S', 'D']).toContain(await state(theirs.pid!));
      await expect(readFile(join(root, 'samba.pid'))).rejects.toThrow(/ENOENT/);
    } finally {
      ours.kill('SIGKILL');
      theirs.kill('SIGKILL');
      await lock.release();
    }
  }, SAMBA_HOOK_TIMEOUT);

  it('names whatever holds port 389 instead of starting', async () => {
    const lock = await acquireLock(join(cacheRoot(), 'lock'));
    const squatter = createServer();
    try {
      await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(389, '127.0.0.1', resolve));
      await expect(assertPortsFree()).rejects.toThrow(/127\.0\.0\.1:389.*in use by.*node/s);
    } finally {
      await new Promise((r) => squatter.close(r));
      await lock.release();
    }
  }, SAMBA_HOOK_TIMEOUT);
});

describe('cross-process lock', () => {
  it('makes a second holder wait until the first releases, and survives a dead holder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'samba-lock-'));
    const file = join(dir, 'lock');
    try {
      const first = await acquireLock(file);
      let second = false;
      const waiting = acquireLock(file).then((l) => ((second = true), l));
      await new Promise((r) => setTimeout(r, 500));
      expect(second).toBe(false);
      await first.release();
      const held = await waiting;
      expect(second).toBe(true);
      expect(await readFile(`${file}.holder`, 'utf8')).toContain(`pid ${process.pid}`);
      // The holder dies without releasing (as a killed worker would): the kernel frees the lock.
      process.kill(held.pid, 'SIGKILL');
      const third = await acquireLock(file);
      await third.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
