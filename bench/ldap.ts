/**
 * LDAP read benchmark: 100,000 users and 2,000 groups in a throwaway slapd (bulk-loaded with
 * slapadd, memberOf precomputed since slapadd runs no overlays), read through the connector's
 * listUsers() + listGroups() in a fresh process, against the floor measured in the same run:
 * `ldapsearch -E pr=1000/noprompt` of the same entries with the same attributes, output discarded,
 * and the same searches with ldapts alone (what the client library costs before any mapping).
 *
 *   npm run build && node dist/bench/ldap.js
 *
 * BENCH_USERS / BENCH_GROUPS scale it; BENCH_LDAP_RUNS (default 3) repetitions, fastest counts
 * (the VM is noisy). Prints the ratio and the reading process's peak RSS. Fails (exit 1) when the
 * connector does not list every user, group and membership.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ldapConnector } from '../connectors/ldap/index.js';
import { ldapConfigSchema } from '../connectors/ldap/config.js';
import { silentLogger } from '../src/core/logger.js';
import { LDAPSEARCH, ldifEntry, startSlapd } from '../test/support/slapd.js';
import { root } from './cli.js';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 2_000);
const RUNS = Math.max(1, Number(process.env.BENCH_LDAP_RUNS ?? 3));
const PAGE = 1000;
/** BENCH_CPU_PROF=DIR writes a V8 CPU profile of the reading process; BENCH_NODE_ARGS adds node flags. */
const NODE_ARGS = [
  ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
  ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
];

interface ReadResult {
  seconds: number;
  users: number;
  groups: number;
  members: number;
  maxRssMb: number;
}

function generate(suffix: string): string {
  const people = `ou=people,${suffix}`;
  const groups = `ou=groups,${suffix}`;
  const parts: string[] = [
    ldifEntry(suffix, { objectClass: ['dcObject', 'organization'], dc: 'example', o: 'example' }),
    ldifEntry(people, { objectClass: 'organizationalUnit', ou: 'people' }),
    ldifEntry(groups, { objectClass: 'organizationalUnit', ou: 'groups' }),
  ];
  const groupOf = (i: number) => i % GROUPS;
  for (let i = 0; i < USERS; i++) {
    const uid = `user${i}`;
    const manager = i % 50 === 0 ? undefined : `uid=user${i - (i % 50)},${people}`;
    parts.push(
      ldifEntry(`uid=${uid},${people}`, {
        objectClass: ['inetOrgPerson'],
        uid,
        cn: `First${i} Last${i}`,
        sn: `Last${i}`,
        givenName: `First${i}`,
        mail: `${uid}@example.org`,
        title: 'Engineer',
        departmentNumber: `Dept ${groupOf(i)}`,
        employeeNumber: `E${i}`,
        telephoneNumber: `+1 555 ${String(i).padStart(7, '0')}`,
        manager,
        memberOf: `cn=group${groupOf(i)},${groups}`,
      }),
    );
  }
  for (let g = 0; g < GROUPS; g++) {
    const members: string[] = [];
    for (let i = g; i < USERS; i += GROUPS) members.push(`uid=user${i},${people}`);
    parts.push(ldifEntry(`cn=group${g},${groups}`, { objectClass: 'groupOfNames', cn: `group${g}`, member: members.length ? members : ['cn=nobody'] }));
  }
  return parts.join('\n');
}

/** ldapsearch of users then groups, paged like the connector, with the attributes it asks for. */
async function floor(url: string, bindDN: string, password: string, suffix: string): Promise<number> {
  const search = (base: string, filter: string, attrs: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(LDAPSEARCH, ['-x', '-H', url, '-D', bindDN, '-w', password, '-LLL', '-E', `pr=${PAGE}/noprompt`, '-b', base, filter, ...attrs], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ldapsearch exited ${code}: ${err}`))));
    });
  const started = process.hrtime.bigint();
  await search(`ou=people,${suffix}`, '(objectClass=inetOrgPerson)', ['*', 'entryUUID']);
  await search(`ou=groups,${suffix}`, '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))', ['entryUUID', 'cn', 'description', 'member', 'uniqueMember', 'memberUid']);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Child mode `--bare`: the same searches with ldapts alone (no mapping): what the client library costs. */
async function bareMode(args: { url: string; bindDN: string; password: string; suffix: string }): Promise<void> {
  const { Client } = await import('ldapts');
  const client = new Client({ url: args.url });
  await client.bind(args.bindDN, args.password);
  const started = process.hrtime.bigint();
  let users = 0;
  let groups = 0;
  for await (const page of client.searchPaginated(`ou=people,${args.suffix}`, { filter: '(objectClass=inetOrgPerson)', attributes: ['*', 'entryUUID'], paged: { pageSize: PAGE } })) {
    users += page.searchEntries.length;
  }
  const groupFilter = '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))';
  const groupAttrs = ['entryUUID', 'cn', 'description', 'member', 'uniqueMember', 'memberUid'];
  for await (const page of client.searchPaginated(`ou=groups,${args.suffix}`, { filter: groupFilter, attributes: groupAttrs, paged: { pageSize: PAGE } })) {
    groups += page.searchEntries.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await client.unbind();
  const result: ReadResult = { seconds, users, groups, members: USERS, maxRssMb: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(JSON.stringify(result) + '\n');
}

/** Child mode: read everything through the connector and print one JSON line. */
async function readMode(args: { url: string; bindDN: string; password: string; suffix: string }): Promise<void> {
  const config = ldapConfigSchema.parse({
    url: args.url,
    bindDN: args.bindDN,
    bindPassword: args.password,
    pageSize: PAGE,
    users: { baseDNs: [`ou=people,${args.suffix}`] },
    groups: { baseDNs: [`ou=groups,${args.suffix}`] },
  });
  const connector = ldapConnector.create(config as never, { name: 'bench', configDir: '.', statePath: '', logger: silentLogger, warn: () => {} });
  const started = process.hrtime.bigint();
  let users = 0;
  let groups = 0;
  let members = 0;
  for await (const _ of connector.reader!.listUsers()) users++;
  for await (const g of connector.reader!.listGroups()) {
    groups++;
    members += g.members.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await connector.close();
  const result: ReadResult = { seconds, users, groups, members, maxRssMb: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function readInChild(mode: '--read' | '--bare', url: string, bindDN: string, password: string, suffix: string): Promise<ReadResult> {
  const child = spawn(process.execPath, [...NODE_ARGS, join(root, 'dist', 'bench', 'ldap.js'), mode, JSON.stringify({ url, bindDN, password, suffix })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code: number = await new Promise((r) => child.on('close', (c) => r(c ?? 1)));
  if (code !== 0) throw new Error(`reader process exited ${code}`);
  return JSON.parse(out) as ReadResult;
}

async function main(): Promise<void> {
  const s = await startSlapd({ baseEntries: false });
  try {
    const loadStarted = process.hrtime.bigint();
    await s.loadOffline(generate(s.suffix));
    console.log(`slapadd ${USERS} users + ${GROUPS} groups: ${(Number(process.hrtime.bigint() - loadStarted) / 1e9).toFixed(1)} s`);
    const floors: number[] = [];
    const reads: ReadResult[] = [];
    const bares: ReadResult[] = [];
    for (let i = 0; i < RUNS; i++) {
      floors.push(await floor(s.url, s.rootDN, s.rootPassword, s.suffix));
      bares.push(await readInChild('--bare', s.url, s.rootDN, s.rootPassword, s.suffix));
      reads.push(await readInChild('--read', s.url, s.rootDN, s.rootPassword, s.suffix));
    }
    const bare = bares.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const best = Math.min(...floors);
    const read = reads.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    if (read.users !== USERS || read.groups !== GROUPS || read.members !== USERS) {
      throw new Error(`incomplete read: ${JSON.stringify(read)}`);
    }
    console.log(`floor: ldapsearch -E pr=${PAGE}/noprompt of users + groups: ${best.toFixed(2)} s (runs: ${floors.map((f) => f.toFixed(2)).join(', ')})`);
    console.log(`bare ldapts searchPaginated, same searches: ${bare.seconds.toFixed(2)} s, ${(bare.seconds / best).toFixed(2)}× the floor, peak RSS ${bare.maxRssMb.toFixed(0)} MB`);
    console.log(
      `connector listUsers + listGroups: ${read.seconds.toFixed(2)} s (runs: ${reads.map((r) => r.seconds.toFixed(2)).join(', ')}), ` +
        `${(read.seconds / best).toFixed(2)}× the floor, peak RSS ${read.maxRssMb.toFixed(0)} MB`,
    );
  } finally {
    await s.cleanup();
  }
}

const readIndex = process.argv.indexOf('--read');
const bareIndex = process.argv.indexOf('--bare');
const childArgs = (i: number) => JSON.parse(process.argv[i + 1]!) as Parameters<typeof readMode>[0];
const run = readIndex > 0 ? readMode(childArgs(readIndex)) : bareIndex > 0 ? bareMode(childArgs(bareIndex)) : main();
run.catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
