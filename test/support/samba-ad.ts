/**
 * A real Active Directory protocol peer for tests: a Samba AD DC on 127.0.0.1.
 *
 * Why it is built this way (numbers measured on the 2-core CI machines, see
 * ../shared/notes/test-servers.md):
 * - Provisioning a domain takes ≈ 6–9 s, restoring a copy and starting ≈ 1 s. So the domain is
 *   provisioned once into a cache dir under os.tmpdir() (keyed by Samba version and this harness'
 *   layout version, published by an atomic rename so a crashed provision is never reused), and
 *   every suite starts from a fresh copy of that pristine directory.
 * - Samba has no port setting: it always listens on 389/636/3268/3269. Only one Samba may run on
 *   the machine, across every vitest worker process. The lock is a kernel `flock` held by a small
 *   `flock … cat` child whose stdin is a pipe from this process: if this process dies for any
 *   reason the pipe closes, `cat` ends and the kernel drops the lock. That is the stale-holder
 *   takeover, with no pid-guessing race. The holder's pid is written next to the lock for messages.
 * - A Samba left behind by a killed worker is recognised by its command line (our instance dir)
 *   and stopped; anything else on 389 (a packaged slapd or samba service) fails the start with a
 *   message naming the process.
 * - Our own smb.conf: only the ldap service, 127.0.0.1 only, simple binds allowed on plain LDAP,
 *   a TLS cert with an IP SAN (so ldaps verifies against `caFile`), `ldb:nosync` (2.4× faster
 *   writes; durability is irrelevant for a throwaway directory), password complexity off.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';

const run = promisify(execFile);

const SAMBA = '/usr/sbin/samba';
const SAMBA_TOOL = '/usr/bin/samba-tool';
/** Bump when the provisioned layout or smb.conf changes, so old caches are not reused. */
const LAYOUT = 3;
const PORTS = [389, 636, 3268, 3269];

export const REALM = 'EXAMPLE.ORG';
export const DOMAIN = 'EXAMPLE';
export const BASE_DN = 'DC=example,DC=org';
export const ADMIN_DN = `CN=Administrator,CN=Users,${BASE_DN}`;
/** Test-only credential of a throwaway domain. */
export const ADMIN_PASSWORD = 'Adm1n-Test-Pass!';
/** For beforeAll hooks: a suite may wait for other workers' Samba suites before its own start. */
export const SAMBA_HOOK_TIMEOUT = 10 * 60_000;

export interface SambaAd {
  url: string;
  ldapsUrl: string;
  baseDN: string;
  bindDN: string;
  bindPassword: string;
  /** PEM of the self-signed server certificate (it is its own CA), with IP SAN 127.0.0.1. */
  caFile: string;
  /** The running instance directory (DIR/etc/smb.conf, DIR/private/sam.ldb). */
  dir: string;
  /** Stops Samba, waits until the process is gone, then releases the cross-process lock. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Runs after the pristine copy is restored and before Samba starts, with the instance's
   * smb.conf and sam.ldb: the place for offline bulk loads (much faster than LDAP adds).
   */
  beforeStart?: (paths: { dir: string; smbConf: string; samLdb: string }) => Promise<void>;
}

export function cacheRoot(): string {
  return join(tmpdir(), 'scim-sync-samba-ad');
}

// ---------------------------------------------------------------------------------------------
// Cross-process lock

export interface HeldLock {
  /** pid of the `flock` child holding the kernel lock. */
  readonly pid: number;
  release(): Promise<void>;
}

/**
 * Takes the exclusive lock on `file`, waiting for as long as another process holds it.
 * `onWait` is called once if the lock is not free at first, with whatever the holder wrote.
 */
export async function acquireLock(file: string, onWait?: (holder: string) => void): Promise<HeldLock> {
  await mkdir(join(file, '..'), { recursive: true });
  const waitTimer = onWait
    ? setTimeout(() => {
        readFile(`${file}.holder`, 'utf8').then(onWait, () => onWait('unknown'));
      }, 2000)
    : undefined;
  const child = spawn('flock', ['--exclusive', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('locked')) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`flock ${file} ended (${code ?? signal}) before locking: ${stderr}`)));
    });
  } finally {
    clearTimeout(waitTimer);
  }
  // The lock lives exactly as long as this child: never let it keep the event loop alive.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  await writeFile(`${file}.holder`, `pid ${process.pid} (${process.argv.slice(1).join(' ')}) since ${new Date().toISOString()}\n`);
  let released = false;
  return {
    pid: child.pid!,
    async release() {
      if (released) return;
      released = true;
      const gone = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit');
      child.stdin.end();
      await gone;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Processes and ports

/** State letter from /proc/PID/stat, or undefined when the process is gone. */
async function procState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ..." — comm may contain spaces and parentheses; the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Alive = exists and is not a zombie (kill -0 succeeds on zombies here). */
async function alive(pid: number): Promise<boolean> {
  const s = await procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!(await alive(pid))) return true;
    await sleep(20);
  }
  return !(await alive(pid));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      s.destroy();
      resolve(open);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

async function listener(port: number): Promise<string> {
  try {
    const { stdout } = await run('ss', ['-ltnpH', `sport = :${port}`]);
    return stdout.trim() || 'unknown process';
  } catch {
    return 'unknown process';
  }
}

/** Throws a message naming the process when any port Samba needs is taken. */
export async function assertPortsFree(): Promise<void> {
  for (const port of PORTS) {
    if (await portOpen(port)) {
      throw new Error(
        `Samba AD needs 127.0.0.1:${port}, which is in use by: ${await listener(port)}. ` +
          'Stop that service (e.g. `systemctl disable --now slapd samba-ad-dc`, or kill a leftover test server) and retry.',
      );
    }
  }
}

/**
 * Whether `pid` runs from our instance dir. Samba overwrites its command line with its process
 * title ("samba: root process"), so the files it holds open (its databases, its log) decide.
 */
async function usesDir(pid: number, dir: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (cmdline.includes(dir)) return true;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith(`${dir}/`)) return true;
  }
  return false;
}

/** A Samba left running by a worker that died (its pid file remains): stopped if it is ours. */
export async function stopLeftover(root: string): Promise<void> {
  const pidFile = join(root, 'samba.pid');
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && (await alive(pid))) {
    if (await usesDir(pid, join(root, 'instance'))) {
      process.kill(pid, 'SIGTERM');
      if (!(await waitGone(pid, 10_000))) {
        process.kill(pid, 'SIGKILL');
        await waitGone(pid, 5_000);
      }
    }
  }
  await rm(pidFile, { force: true });
}

// ---------------------------------------------------------------------------------------------
// Provisioning

async function sambaVersion(): Promise<string> {
  const { stdout } = await run(SAMBA, ['--version']);
  return stdout.trim().replace(/^Version\s+/i, '').replace(/[^\w.-]/g, '_');
}

function smbConf(dir: string): string {
  return `# Written by test/support/samba-ad.ts: a throwaway DC serving LDAP only, on 127.0.0.1 only.
[global]
	netbios name = DC1
	realm = ${REALM}
	workgroup = ${DOMAIN}
	server role = active directory domain controller
	server services = ldap
	interfaces = 127.0.0.1
	bind interfaces only = yes
	# Tests bind with simple binds on ldap:// as well as ldaps://.
	ldap server require strong auth = no
	tls enabled = yes
	tls certfile = ${dir}/tls/cert.pem
	tls keyfile = ${dir}/tls/key.pem
	tls cafile =
	ldb:nosync = true
	private dir = ${dir}/private
	lock directory = ${dir}
	state directory = ${dir}/state
	cache directory = ${dir}/cache
	pid directory = ${dir}/run
	ncalrpc dir = ${dir}/run/ncalrpc
	binddns dir = ${dir}/bind-dns
	log file = ${dir}/log/samba.log
	logging = file
	log level = 1
	idmap_ldb:use rfc2307 = yes
`;
}

async function provision(target: string, instance: string): Promise<void> {
  const work = `${target}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await run(SAMBA_TOOL, [
    'domain', 'provision',
    `--targetdir=${work}`, `--realm=${REALM}`, `--domain=${DOMAIN}`, '--host-name=dc1',
    '--server-role=dc', '--dns-backend=NONE', '--use-rfc2307', '--host-ip=127.0.0.1',
    `--adminpass=${ADMIN_PASSWORD}`,
  ], { maxBuffer: 16 << 20 });
  // Simple test passwords; an admin reset must not hit the minimum age or history either.
  await run(SAMBA_TOOL, [
    'domain', 'passwordsettings', 'set', '--complexity=off', '--min-pwd-age=0', '--history-length=0',
    '-s', join(work, 'etc', 'smb.conf'), '-H', join(work, 'private', 'sam.ldb'),
  ]);
  await mkdir(join(work, 'tls'), { recursive: true });
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-keyout', join(work, 'tls', 'key.pem'), '-out', join(work, 'tls', 'cert.pem'),
  ]);
  await chmod(join(work, 'tls', 'key.pem'), 0o600); // Samba refuses a key others can read.
  for (const d of ['run', 'log', 'cache']) await mkdir(join(work, d), { recursive: true });
  // The conf names the instance dir, where every copy runs; the pristine dir itself never runs.
  await writeFile(join(work, 'etc', 'smb.conf'), smbConf(instance));
  await rename(work, target);
}

// ---------------------------------------------------------------------------------------------
// Start / stop

let runningHere = false;

async function ready(child: ChildProcess, dir: string, log: () => string): Promise<void> {
  const until = Date.now() + 60_000;
  let last: unknown;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = await readFile(join(dir, 'log', 'samba.log'), 'utf8').catch(() => '');
      throw new Error(`samba exited (${child.exitCode ?? child.signalCode}) while starting:\n${log()}\n${tail.slice(-3000)}`);
    }
    const client = new Client({ url: 'ldap://127.0.0.1', timeout: 2000, connectTimeout: 2000 });
    try {
      await client.bind(ADMIN_DN, ADMIN_PASSWORD);
      const { searchEntries } = await client.search('', { scope: 'base', attributes: ['highestCommittedUSN'] });
      if (searchEntries[0]?.highestCommittedUSN !== undefined) return;
    } catch (e) {
      last = e;
    } finally {
      await client.unbind().catch(() => undefined);
    }
    await sleep(100);
  }
  throw new Error(`samba did not answer LDAP within 60 s: ${String(last)}\n${log()}`);
}

/**
 * Starts a Samba AD DC from a fresh copy of the pristine provisioned domain. Waits (possibly
 * minutes, see SAMBA_HOOK_TIMEOUT) while a suite in another worker holds Samba.
 */
export async function startSambaAd(options: StartOptions = {}): Promise<SambaAd> {
  if (process.getuid?.() !== 0) throw new Error('Samba AD tests need root (samba binds 389/636)');
  if (!existsSync(SAMBA) || !existsSync(SAMBA_TOOL)) {
    throw new Error('Samba AD DC is not installed: run .ci/install-deps (samba samba-ad-dc samba-ad-provision)');
  }
  if (runningHere) throw new Error('a Samba AD from this process is still running: stop() it first');
  runningHere = true;
  const root = cacheRoot();
  let lock: HeldLock | undefined;
  let stopOwnsLock = false;
  try {
    lock = await acquireLock(join(root, 'lock'), (holder) => console.error(`samba-ad: waiting for Samba held by ${holder.trim()}`));
    await stopLeftover(root);
    await assertPortsFree();

    const instance = join(root, 'instance');
    const pristine = join(root, `pristine-${await sambaVersion()}-v${LAYOUT}`);
    if (!existsSync(pristine)) {
      // Under the lock nobody else provisions: work dirs of crashed provisions can go.
      for (const name of await readdir(root)) if (name.includes('.tmp-')) await rm(join(root, name), { recursive: true, force: true });
      await provision(pristine, instance);
    }

    await rm(instance, { recursive: true, force: true });
    await cp(pristine, instance, { recursive: true });
    const conf = join(instance, 'etc', 'smb.conf');
    await options.beforeStart?.({ dir: instance, smbConf: conf, samLdb: join(instance, 'private', 'sam.ldb') });

    const child = spawn(SAMBA, ['-F', '--no-process-group', '-M', 'single', '-s', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    await writeFile(join(root, 'samba.pid'), `${child.pid}\n`);
    // A worker that exits without stop() must not leave 389 taken for the rest of the run.
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);

    const heldLock = lock;
    const stop = async () => {
      process.off('exit', onExit);
      try {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        // 'exit' means reaped by us; double-check no zombie or stray process holds the ports.
        if (!(await waitGone(child.pid!, 5_000))) throw new Error(`samba pid ${child.pid} did not go away`);
        await rm(join(root, 'samba.pid'), { force: true });
      } finally {
        runningHere = false;
        await heldLock.release();
      }
    };
    stopOwnsLock = true;
    try {
      await ready(child, instance, () => output);
    } catch (e) {
      await stop();
      throw e;
    }
    let stopped: Promise<void> | undefined;
    return {
      url: 'ldap://127.0.0.1',
      ldapsUrl: 'ldaps://127.0.0.1',
      baseDN: BASE_DN,
      bindDN: ADMIN_DN,
      bindPassword: ADMIN_PASSWORD,
      caFile: join(instance, 'tls', 'cert.pem'),
      dir: instance,
      stop: () => (stopped ??= stop()),
    };
  } catch (e) {
    if (!stopOwnsLock) {
      runningHere = false;
      await lock?.release();
    }
    throw e;
  }
}
