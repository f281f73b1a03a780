import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LDAPSEARCH, ldifEntry, processState, startSlapd } from '../support/slapd.js';
import type { Slapd } from '../support/slapd.js';

const run = promisify(execFile);

describe('slapd test harness', () => {
  let s: Slapd;
  beforeAll(async () => {
    s = await startSlapd();
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('serves the suffix with people and groups OUs on 127.0.0.1', async () => {
    const out = await s.search(s.suffix, '(objectClass=organizationalUnit)', ['ou']);
    expect(out).toContain('dn: ou=people,dc=example,dc=org');
    expect(out).toContain('dn: ou=groups,dc=example,dc=org');
    expect(s.url).toMatch(/^ldap:\/\/127\.0\.0\.1:\d+$/);
  });

  it('maintains memberOf (memberof overlay) and removes deleted members (refint)', async () => {
    await s.add(
      [
        ldifEntry(`uid=h1,ou=people,${s.suffix}`, { objectClass: ['inetOrgPerson'], uid: 'h1', cn: 'H One', sn: 'One' }),
        ldifEntry(`cn=hg,ou=groups,${s.suffix}`, { objectClass: ['groupOfNames'], cn: 'hg', member: [`uid=h1,ou=people,${s.suffix}`, s.rootDN] }),
      ].join('\n'),
    );
    expect(await s.search(`uid=h1,ou=people,${s.suffix}`, '(objectClass=*)', ['memberOf'], 'base')).toContain(`memberOf: cn=hg,ou=groups,${s.suffix}`);
    await s.modify(`dn: uid=h1,ou=people,${s.suffix}\nchangetype: delete\n`);
    expect(await s.search(`cn=hg,ou=groups,${s.suffix}`, '(objectClass=*)', ['member'], 'base')).not.toContain('uid=h1');
  });

  it('has no size limit (default 500) for an anonymous paged search', async () => {
    const ldif = Array.from({ length: 600 }, (_, i) =>
      ldifEntry(`uid=bulk${i},ou=people,${s.suffix}`, { objectClass: 'inetOrgPerson', uid: `bulk${i}`, cn: `B ${i}`, sn: 'B' }),
    ).join('\n');
    await s.add(ldif);
    // Anonymous: the root DN has no limits anyway; the default ACL lets anyone read.
    const { stdout } = await run(LDAPSEARCH, ['-x', '-H', s.url, '-LLL', '-E', 'pr=100/noprompt', '-b', s.suffix, '(uid=bulk*)', '1.1']);
    expect(stdout.match(/^dn: /gm)).toHaveLength(600);
  });

  it('speaks ldaps with a certificate for IP 127.0.0.1', async () => {
    const { stdout } = await run(LDAPSEARCH, ['-x', '-H', s.ldapsUrl, '-b', '', '-s', 'base', '-LLL', 'namingContexts'], {
      env: { ...process.env, LDAPTLS_CACERT: s.caFile, LDAPTLS_REQCERT: 'demand' },
    });
    expect(stdout).toContain('namingContexts: dc=example,dc=org');
  });

  it('bulk-loads offline with slapadd and comes back on the same ports', async () => {
    const ldif = ldifEntry(`uid=offline,ou=people,${s.suffix}`, { objectClass: 'inetOrgPerson', uid: 'offline', cn: 'Off Line', sn: 'Line' });
    await s.loadOffline(ldif);
    expect(await s.search(s.suffix, '(uid=offline)', ['uid'])).toContain('uid: offline');
  });

  it('stops cleanly: the process is gone, not a zombie', async () => {
    const pid = s.pid!;
    expect(processState(pid)).toBeDefined();
    await s.stop();
    expect(processState(pid)).toBeUndefined();
    await s.start();
    expect(await s.search('', '(objectClass=*)', ['namingContexts'], 'base')).toContain('namingContexts');
  });
});
