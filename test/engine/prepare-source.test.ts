import { describe, expect, it } from 'vitest';
import type { SourceGroup, SourceUser } from '../../src/core/connector.js';
import type { JobConfig } from '../../src/config/types.js';
import { prepareSource } from '../../src/engine/prepare-source.js';
import { testJob } from '../support/job.js';
import type { Snapshot } from '../../src/engine/read.js';

function job(overrides: Partial<JobConfig> = {}): JobConfig {
  return testJob({ concurrency: 8, ...overrides });
}

function snapshot(): Snapshot {
  const users: SourceUser[] = [
    { id: 'E1', userName: 'ada@example.com', active: true, enterprise: { department: 'Sales' }, raw: { site: 'Berlin' } },
    { id: 'E2', userName: 'zoe@example.com', active: true, enterprise: { department: 'Legal' }, raw: { site: 'Austin' } },
  ];
  const groups: SourceGroup[] = [{ id: 'g', displayName: 'G', members: [{ type: 'User', value: 'E1' }], raw: { code: 'x' } }];
  return { users: new Map(users.map((u) => [u.id, u])), groups: new Map(groups.map((g) => [g.id, g])) };
}

describe('prepareSource', () => {
  it('hands the source users on as read when the job neither maps nor scopes them', async () => {
    const snap = snapshot();
    const prepared = await prepareSource(job(), snap, ['userName', 'active'], true);
    expect(prepared.users).toBe(snap.users);
    expect(prepared.outOfScope.users.size).toBe(0);
    expect(prepared.groups.get('g')).toEqual({ id: 'g', displayName: 'G', members: [{ type: 'User', value: 'E1' }] });
  });

  it('scopes on mapped attributes and raw columns, leaving the snapshot alone', async () => {
    const snap = snapshot();
    const byDepartment = await prepareSource(job({ scope: { users: 'department eq "Sales"' } }), snap, ['userName'], true);
    expect([...byDepartment.users.keys()]).toEqual(['E1']);
    expect([...byDepartment.outOfScope.users]).toEqual(['E2']);
    const bySite = await prepareSource(job({ scope: { users: 'site eq "Austin"' } }), snap, ['userName'], true);
    expect([...bySite.users.keys()]).toEqual(['E2']);
    expect(snap.users.size).toBe(2);
  });

  it('applies the job mapping without changing the source objects', async () => {
    const snap = snapshot();
    const prepared = await prepareSource(job({ mapping: { users: { title: '{{site}}' }, groups: {} } }), snap, ['userName'], true);
    expect(prepared.users.get('E1')!.title).toBe('Berlin');
    expect(snap.users.get('E1')!.title).toBeUndefined();
    expect(prepared.userAttributes).toEqual(['userName', 'title']);
  });
});
