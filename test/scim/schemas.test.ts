import { describe, expect, it } from 'vitest';
import type { UserInput } from '../../src/core/model.js';
import { describeScimError, parseScimError, scimErrorBody } from '../../src/scim/errors.js';
import { addMembersBodies, groupPatchOperations, removeMembersBodies, userPatchOperations } from '../../src/scim/patch.js';
import {
  CORE_USER_URN,
  ENTERPRISE_USER_URN,
  ScimFormatError,
  fromScimGroup,
  fromScimUser,
  parseListResponse,
  toScimGroup,
  toScimUser,
} from '../../src/scim/schemas.js';

const input: UserInput = {
  userName: 'jdoe@example.com',
  externalId: 'E1',
  active: true,
  name: { givenName: 'Jane', familyName: 'Doe' },
  displayName: 'Jane Doe',
  emails: [{ value: 'jdoe@example.com', type: 'work', primary: true }],
  enterprise: { department: 'R&D', manager: { value: 'm1', displayName: 'Boss' } },
};

describe('toScimUser / fromScimUser', () => {
  it('writes core and enterprise attributes under their URNs', () => {
    expect(toScimUser(input, 'u1')).toEqual({
      schemas: [CORE_USER_URN, ENTERPRISE_USER_URN],
      id: 'u1',
      externalId: 'E1',
      userName: 'jdoe@example.com',
      active: true,
      name: { givenName: 'Jane', familyName: 'Doe' },
      displayName: 'Jane Doe',
      emails: [{ value: 'jdoe@example.com', type: 'work', primary: true }],
      [ENTERPRISE_USER_URN]: { department: 'R&D', manager: { value: 'm1' } },
    });
    expect(toScimUser({ userName: 'a', active: false })).toEqual({ schemas: [CORE_USER_URN], userName: 'a', active: false });
  });

  it('round-trips through the model', () => {
    const back = fromScimUser(toScimUser(input, 'u1'));
    expect(back).toEqual({ ...input, id: 'u1', enterprise: { department: 'R&D', manager: { value: 'm1' } } });
  });

  it('tolerates nulls, missing meta, numeric ids and string booleans', () => {
    const user = fromScimUser({
      id: 42,
      userName: 'bob',
      active: 'False',
      name: { givenName: null, familyName: null },
      title: null,
      emails: null,
      phoneNumbers: [{ value: null }, { value: '+1 555', type: null }],
      [ENTERPRISE_USER_URN]: { department: null, manager: null },
    });
    expect(user).toEqual({ id: '42', userName: 'bob', active: false, phoneNumbers: [{ value: '+1 555' }] });
  });

  it('treats a missing active as active', () => {
    expect(fromScimUser({ id: 'x', userName: 'x' }).active).toBe(true);
  });

  it('rejects a resource without id or userName, clearly', () => {
    expect(() => fromScimUser({ userName: 'a' })).toThrow(new ScimFormatError('user resource has no "id"; a SCIM user must carry one'));
    expect(() => fromScimUser({ id: 'u9', userName: null })).toThrow('user resource u9 has no "userName"');
    expect(() => fromScimUser('nope')).toThrow(ScimFormatError);
    expect(() => fromScimUser({ id: 'u1', userName: 'a', title: 5n as unknown })).toThrow('"title" must be a string');
    expect(() => fromScimUser({ id: 'u1', userName: 'a', active: 'yes' })).toThrow('"active" must be a boolean');
  });
});

describe('groups', () => {
  it('parses members, inferring type from $ref or ref, and dedupes', () => {
    const g = fromScimGroup({
      id: 'g1',
      displayName: 'Eng',
      externalId: null,
      members: [
        { value: 'u1', type: 'User' },
        { value: 'g2', $ref: 'https://x/scim/v2/Groups/g2' },
        { value: 'g3', ref: '/Groups/g3/' },
        { value: 'u2', $ref: 'https://x/scim/v2/Users/u2' },
        { value: 'u3' },
        { value: 'u1', type: 'user' },
        null,
      ],
    });
    expect(g).toEqual({
      id: 'g1',
      displayName: 'Eng',
      members: [
        { type: 'User', value: 'u1' },
        { type: 'Group', value: 'g2' },
        { type: 'Group', value: 'g3' },
        { type: 'User', value: 'u2' },
        { type: 'User', value: 'u3' },
      ],
    });
  });

  it('accepts null members and rejects bad ones', () => {
    expect(fromScimGroup({ id: 'g', displayName: 'G', members: null }).members).toEqual([]);
    expect(() => fromScimGroup({ id: 'g', displayName: 'G', members: [{ type: 'User' }] })).toThrow('group resource g.members[0] has no "value"');
    expect(() => fromScimGroup({ id: 'g', displayName: 'G', members: [{ value: 'x', type: 'Device' }] })).toThrow('member type');
    expect(() => fromScimGroup({ id: 'g' })).toThrow('group resource g has no "displayName"');
  });

  it('writes groups with and without members', () => {
    expect(toScimGroup({ displayName: 'Eng', externalId: 'e' })).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      externalId: 'e',
      displayName: 'Eng',
    });
    expect(toScimGroup({ displayName: 'Eng' }, 'g1', [{ type: 'Group', value: 'g2' }]).members).toEqual([{ value: 'g2', type: 'Group' }]);
  });
});

describe('parseListResponse', () => {
  it('reads numbers, tolerates missing Resources and bad counters', () => {
    expect(parseListResponse({ totalResults: 3, itemsPerPage: '2', startIndex: 1, Resources: [{}, {}] })).toEqual({
      resources: [{}, {}],
      totalResults: 3,
      itemsPerPage: 2,
      startIndex: 1,
    });
    expect(parseListResponse({ totalResults: 0 })).toEqual({ resources: [], totalResults: 0 });
    expect(parseListResponse({ totalResults: -1, itemsPerPage: 'x', Resources: [] })).toEqual({ resources: [] });
    expect(() => parseListResponse({ Resources: {} })).toThrow('"Resources" must be an array');
  });
});

describe('errors', () => {
  it('parses RFC 7644 error bodies', () => {
    const body = { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '409', scimType: 'uniqueness', detail: 'userName taken' };
    expect(parseScimError(body)).toEqual({ status: 409, scimType: 'uniqueness', detail: 'userName taken' });
    expect(describeScimError(body, 400)).toBe('409 uniqueness: userName taken');
    expect(describeScimError(JSON.stringify(body))).toBe('409 uniqueness: userName taken');
    expect(describeScimError({ status: 404 })).toBe('404');
    expect(describeScimError('<html><body>Bad   Gateway</body></html>', 502)).toBe('502: <html><body>Bad Gateway</body></html>');
    expect(describeScimError('', 500)).toBe('500');
    expect(describeScimError(null)).toBe('error without detail');
    expect(describeScimError('x'.repeat(300), 500)).toHaveLength('500: '.length + 201);
  });

  it('builds error bodies', () => {
    expect(scimErrorBody(404, 'no such user')).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404', detail: 'no such user' });
  });
});

describe('patch', () => {
  it('replaces changed attributes by path and removes cleared ones', () => {
    const desired: UserInput = { ...input, nickName: '', emails: [] };
    expect(
      userPatchOperations(desired, ['name.givenName', 'enterprise.department', 'enterprise.manager', 'nickName', 'emails', 'title', 'active']),
    ).toEqual([
      { op: 'replace', path: 'name.givenName', value: 'Jane' },
      { op: 'replace', path: `${ENTERPRISE_USER_URN}:department`, value: 'R&D' },
      { op: 'replace', path: `${ENTERPRISE_USER_URN}:manager`, value: { value: 'm1' } },
      { op: 'remove', path: 'nickName' },
      { op: 'remove', path: 'emails' },
      { op: 'remove', path: 'title' },
      { op: 'replace', path: 'active', value: true },
    ]);
    expect(userPatchOperations({ userName: 'a', active: false }, ['active'])).toEqual([{ op: 'replace', path: 'active', value: false }]);
  });

  it('patches groups', () => {
    expect(groupPatchOperations({ displayName: 'New' }, ['displayName', 'externalId'])).toEqual([
      { op: 'replace', path: 'displayName', value: 'New' },
      { op: 'remove', path: 'externalId' },
    ]);
  });

  it('batches member changes', () => {
    const members = Array.from({ length: 5 }, (_, i) => ({ type: 'User' as const, value: `u${i}` }));
    const adds = addMembersBodies(members, 2);
    expect(adds).toHaveLength(3);
    expect(adds[2]).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'members', value: [{ value: 'u4', type: 'User' }] }],
    });
    const removes = removeMembersBodies(members, 3);
    expect(removes.map((b) => b.Operations.length)).toEqual([3, 2]);
    expect(removes[0]!.Operations[0]).toEqual({ op: 'remove', path: 'members[value eq "u0"]' });
    expect(removeMembersBodies(members.slice(0, 2), 10, 'value')[0]!.Operations).toEqual([
      { op: 'remove', path: 'members', value: [{ value: 'u0' }, { value: 'u1' }] },
    ]);
    expect(addMembersBodies([], 100)).toEqual([]);
    expect(() => addMembersBodies(members, 0)).toThrow(RangeError);
  });
});
