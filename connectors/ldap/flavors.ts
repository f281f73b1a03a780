/**
 * What differs between directory servers, as data: default filters, object classes, naming
 * attributes and the attribute map. Every value here can be overridden in the connector's config;
 * the README lists them.
 */

export type Flavor = 'openldap' | 'ad';

/**
 * Keys of the attribute map: SCIM-shaped paths (src/core/attributes.ts) plus the typed slots of
 * the multi-valued ones. `active` is not mapped: it comes from `deactivate` (OpenLDAP) or
 * userAccountControl (AD).
 */
export const USER_MAP_KEYS = [
  'userName',
  'externalId',
  'displayName',
  'nickName',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'name.formatted',
  'name.familyName',
  'name.givenName',
  'name.middleName',
  'name.honorificPrefix',
  'name.honorificSuffix',
  'emails',
  'phoneNumbers.work',
  'phoneNumbers.mobile',
  'enterprise.employeeNumber',
  'enterprise.costCenter',
  'enterprise.organization',
  'enterprise.division',
  'enterprise.department',
  'enterprise.manager',
] as const;
export type UserMapKey = (typeof USER_MAP_KEYS)[number];
export type UserMap = Partial<Record<UserMapKey, string>>;

export const GROUP_MAP_KEYS = ['displayName', 'externalId'] as const;
export type GroupMapKey = (typeof GROUP_MAP_KEYS)[number];
export type GroupMap = Partial<Record<GroupMapKey, string>>;

export interface FlavorDefaults {
  /** Attribute holding the stable anchor (never the DN, which changes on rename and move). */
  anchorAttribute: string;
  /** Binary anchors are read as buffers and turned into their canonical string form. */
  anchorBinary: boolean;
  users: { filter: string; objectClasses: string[]; rdnAttribute: string; map: UserMap };
  groups: {
    filter: string;
    objectClasses: string[];
    rdnAttribute: string;
    memberAttribute: 'member' | 'uniqueMember' | 'memberUid';
    map: GroupMap;
    /** groupOfNames / groupOfUniqueNames require at least one member: a placeholder fills an empty group. */
    needsPlaceholder: boolean;
  };
  /** Timestamp (OpenLDAP) or update sequence number (AD) delta reads use. */
  delta: 'modifyTimestamp' | 'uSNChanged';
}

export const FLAVORS: Readonly<Record<Flavor, FlavorDefaults>> = {
  openldap: {
    anchorAttribute: 'entryUUID',
    anchorBinary: false,
    users: {
      filter: '(objectClass=inetOrgPerson)',
      objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      rdnAttribute: 'uid',
      map: {
        userName: 'uid',
        // The sync anchor a job writes (the source's id, e.g. the HR employee id): employeeNumber
        // is what inetOrgPerson has for it, so enterprise.employeeNumber is not mapped by default.
        externalId: 'employeeNumber',
        displayName: 'displayName',
        title: 'title',
        userType: 'employeeType',
        preferredLanguage: 'preferredLanguage',
        'name.familyName': 'sn',
        'name.givenName': 'givenName',
        emails: 'mail',
        'phoneNumbers.work': 'telephoneNumber',
        'phoneNumbers.mobile': 'mobile',
        'enterprise.organization': 'o',
        'enterprise.department': 'departmentNumber',
        'enterprise.manager': 'manager',
      },
    },
    groups: {
      filter: '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))',
      objectClasses: ['top', 'groupOfNames'],
      rdnAttribute: 'cn',
      memberAttribute: 'member',
      map: { displayName: 'cn', externalId: 'description' },
      needsPlaceholder: true,
    },
    delta: 'modifyTimestamp',
  },
  ad: {
    anchorAttribute: 'objectGUID',
    anchorBinary: true,
    users: {
      filter: '(&(objectCategory=person)(objectClass=user))',
      objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
      rdnAttribute: 'cn',
      map: {
        userName: 'userPrincipalName',
        // The sync anchor a job writes is often a UUID (36 characters); AD's schema caps employeeID
        // at 16 (a longer value fails with LDAP 21), employeeNumber holds up to 512. The HR
        // employee id a directory admin expects in employeeID comes as enterprise.employeeNumber.
        externalId: 'employeeNumber',
        displayName: 'displayName',
        title: 'title',
        'name.familyName': 'sn',
        'name.givenName': 'givenName',
        emails: 'mail',
        'phoneNumbers.work': 'telephoneNumber',
        'phoneNumbers.mobile': 'mobile',
        'enterprise.employeeNumber': 'employeeID',
        'enterprise.organization': 'company',
        'enterprise.division': 'division',
        'enterprise.department': 'department',
        'enterprise.manager': 'manager',
      },
    },
    groups: {
      filter: '(objectClass=group)',
      objectClasses: ['top', 'group'],
      rdnAttribute: 'cn',
      memberAttribute: 'member',
      map: { displayName: 'cn', externalId: 'description' },
      needsPlaceholder: false,
    },
    delta: 'uSNChanged',
  },
};

/** Attributes that never go into `raw`: secrets and binary blobs that would print as garbage. */
export const RAW_EXCLUDED: ReadonlySet<string> = new Set(
  ['userPassword', 'unicodePwd', 'dBCSPwd', 'supplementalCredentials', 'ntPwdHistory', 'lmPwdHistory', 'jpegPhoto', 'thumbnailPhoto', 'userCertificate', 'objectSid', 'objectGUID', 'msExchMailboxGuid'].map((a) => a.toLowerCase()),
);
