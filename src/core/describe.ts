import type { MemberRef } from './model.js';

/** Member ids quoted in error messages, so a refusal names the member it is about. */
const MAX_NAMED_MEMBERS = 5;

/**
 * How a membership change is named in a RemoteError (`add 3 members to group g1 (User:u1, …)`),
 * the same for every connector.
 */
export function describeMemberChange(verb: 'add' | 'remove', groupId: string, members: readonly MemberRef[]): string {
  const named = members.slice(0, MAX_NAMED_MEMBERS).map((m) => `${m.type}:${m.value}`);
  const more = members.length > MAX_NAMED_MEMBERS ? `, … ${members.length - MAX_NAMED_MEMBERS} more` : '';
  const list = members.length ? ` (${named.join(', ')}${more})` : '';
  return `${verb} ${members.length} member${members.length === 1 ? '' : 's'} ${verb === 'add' ? 'to' : 'from'} group ${groupId}${list}`;
}
