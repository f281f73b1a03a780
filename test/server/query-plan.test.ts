/**
 * Filters run in SQLite on indexes: `eq` and `sw` on userName, externalId, emails and displayName
 * never scan a whole table. Proven on the real query plans (EXPLAIN QUERY PLAN) of the SQL the
 * server runs, on a directory with data in it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../connectors/embedded/store.js';
import { parseFilter } from '../../src/scim/filter.js';

let dir: string;
let store: DirectoryStore;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'scim-sync-plan-'));
  store = new DirectoryStore(join(dir, 'state.db'));
  store.transaction(() => {
    for (let i = 0; i < 500; i++) {
      store.createUser({ userName: `u${i}@example.com`, externalId: `E${i}`, active: true, displayName: `User ${i}`, emails: [{ value: `u${i}@example.com`, type: 'work' }] });
    }
    for (let i = 0; i < 50; i++) store.createGroup({ displayName: `Group ${i}`, externalId: `G${i}` });
  });
  store.db.exec('ANALYZE');
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Plan lines that read every row of a table (SCAN without an index), ignoring constant rows. */
function scans(kind: 'user' | 'group', filter: string): string[] {
  const plan = store.explainQuery(kind, parseFilter(filter));
  expect(plan.length).toBeGreaterThan(0);
  return plan.filter((line) => /^SCAN /.test(line) && !/CONSTANT ROW|json_each/.test(line));
}

describe('indexed filters (EXPLAIN QUERY PLAN)', () => {
  const userFilters = [
    'userName eq "u7@example.com"',
    'userName sw "u7"',
    'USERNAME EQ "U7@EXAMPLE.COM"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "u7@example.com"',
    'externalId eq "E7"',
    'externalId sw "E7"',
    'emails.value eq "u7@example.com"',
    'emails.value sw "u7"',
    'emails eq "u7@example.com"',
    'emails[value eq "u7@example.com"]',
    'emails[value sw "u7" and type eq "work"]',
    'displayName eq "User 7"',
    'displayName sw "User 7"',
    'userName eq "a" or externalId eq "b"',
    'userName eq "u7@example.com" and active eq true',
  ];
  for (const f of userFilters) {
    it(`Users: ${f}`, () => {
      expect(scans('user', f)).toEqual([]);
    });
  }

  const groupFilters = ['displayName eq "Group 7"', 'displayName sw "Group"', 'externalId eq "G7"', 'externalId sw "G"'];
  for (const f of groupFilters) {
    it(`Groups: ${f}`, () => {
      expect(scans('group', f)).toEqual([]);
    });
  }

  it('the check sees a full scan when there is one (a filter on an unindexed attribute)', () => {
    expect(scans('user', 'title eq "x"')).toEqual([expect.stringMatching(/^SCAN u\b/)]);
  });
});
