import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, harness, type Harness } from './helpers.js';

const USERS = 'id,email,title\nE1,a@example.com,Engineer\nE2,b@example.com,Manager\n';
const GROUPS = 'gid,gname\nG1,Admins\nG2,VPN\n';
const MEMBERS = 'group,user\nG1,E1\nG2,E2\n';

const config = (over: Record<string, unknown> = {}) => ({
  users: { path: 'users.csv', id: 'id' },
  groups: { path: 'groups.csv', id: 'gid', name: 'gname' },
  memberships: { path: 'members.csv', group: 'group', user: 'user' },
  mapping: { userName: '{{email}}', title: '{{title}}' },
  ...over,
});

describe('CSV snapshot token', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
    await h.write('users.csv', USERS);
    await h.write('groups.csv', GROUPS);
    await h.write('members.csv', MEMBERS);
  });
  afterEach(() => h.cleanup());

  const token = (raw: unknown = config()) => connect(h.dir, raw).reader.snapshotToken!();

  it('is stable while nothing changes, across connector instances and after a full read', async () => {
    const first = await token();
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    const { reader } = connect(h.dir, config());
    for await (const _ of reader.listUsers()) void _;
    expect(await reader.snapshotToken!()).toBe(first);
    expect(await token()).toBe(first);
  });

  it.each([
    ['users.csv', USERS.replace('Engineer', 'Engineeq')],
    ['groups.csv', GROUPS.replace('VPN', 'VPM')],
    ['members.csv', MEMBERS.replace('G2,E2', 'G2,E1')],
    // Same size, one byte moved: a size + mtime check could miss this one, a content hash cannot.
    ['users.csv', USERS.replace('a@example.com', 'b@example.com')],
    ['users.csv', `${USERS}\n`],
  ])('changes when any byte of %s changes', async (file, content) => {
    const before = await token();
    await h.write(file, content);
    expect(await token()).not.toBe(before);
  });

  it('changes when bytes move from one file to the next', async () => {
    await h.write('groups.csv', 'gid,gname\nG1,Admins\n');
    await h.write('members.csv', 'G2,VPN\ngroup,user\nG1,E1\nG2,E2\n');
    const moved = await token();
    await h.write('groups.csv', GROUPS);
    await h.write('members.csv', MEMBERS);
    expect(await token()).not.toBe(moved);
  });

  it('changes when the config changes, even where the files do not', async () => {
    const before = await token();
    expect(await token(config({ mapping: { userName: '{{email}}' } }))).not.toBe(before);
    expect(await token(config({ users: { path: 'users.csv', id: 'id', trim: false } }))).not.toBe(before);
    const { groups: _g, memberships: _m, ...usersOnly } = config();
    expect(await token(usersOnly)).not.toBe(before);
  });

  it('is undefined when a file is missing, so the engine reads (and fails) in full', async () => {
    await rm(join(h.dir, 'members.csv'));
    expect(await token()).toBeUndefined();
  });
});
