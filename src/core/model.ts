/**
 * The canonical identity model every connector reads into and writes from.
 *
 * It follows SCIM 2.0 (RFC 7643) core User and Group plus the enterprise User extension, so the
 * SCIM connector and server map it almost one to one, while LDAP and CSV map into it.
 *
 * Ids are always *native to the system the object was read from*: a user read from a CSV has the
 * employee id as `id`, the same person read from the target has the target's id. `externalId` on a
 * target object holds the source id it was provisioned from (the stable anchor).
 */

export interface Name {
  formatted?: string;
  familyName?: string;
  givenName?: string;
  middleName?: string;
  honorificPrefix?: string;
  honorificSuffix?: string;
}

/** A multi-valued attribute entry such as an email address or phone number. */
export interface MultiValue {
  value: string;
  type?: string;
  primary?: boolean;
}

/** `value` is the manager's id in the same system as the user carrying it. */
export interface ManagerRef {
  value: string;
  displayName?: string;
}

/** urn:ietf:params:scim:schemas:extension:enterprise:2.0:User */
export interface EnterpriseAttributes {
  employeeNumber?: string;
  costCenter?: string;
  organization?: string;
  division?: string;
  department?: string;
  manager?: ManagerRef;
}

export interface User {
  /** Native id in the system this object was read from. */
  id: string;
  externalId?: string;
  userName: string;
  active: boolean;
  name?: Name;
  displayName?: string;
  nickName?: string;
  title?: string;
  userType?: string;
  preferredLanguage?: string;
  locale?: string;
  timezone?: string;
  emails?: MultiValue[];
  phoneNumbers?: MultiValue[];
  enterprise?: EnterpriseAttributes;
}

export type MemberType = 'User' | 'Group';

/** A group member, by its id in the same system as the group. */
export interface MemberRef {
  type: MemberType;
  value: string;
}

export interface Group {
  id: string;
  externalId?: string;
  displayName: string;
  members: MemberRef[];
}

/** A user or group as a writer receives it: everything but the native id, which the target assigns. */
export type UserInput = Omit<User, 'id'>;
export type GroupInput = Omit<Group, 'id' | 'members'>;

export type ObjectKind = 'user' | 'group';
