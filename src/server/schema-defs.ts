import { CORE_GROUP_URN, CORE_USER_URN, ENTERPRISE_USER_URN } from '../scim/schemas.js';

/**
 * The attributes this server supports, as RFC 7643 §7 attribute definitions. One table serves
 * `/Schemas` (so it describes exactly what is stored), PATCH (which attributes are multi-valued,
 * complex, boolean or read-only) and attribute projection. Anything not listed is not stored: a
 * client sending it has it ignored, as RFC 7644 §3.3 allows for attributes a server does not know.
 */

export type AttrType = 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime';
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';

export interface AttrDef {
  name: string;
  type: AttrType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: Mutability;
  returned: 'always' | 'default' | 'never' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: AttrDef[];
  referenceTypes?: string[];
  canonicalValues?: string[];
}

function attr(name: string, description: string, over: Partial<AttrDef> = {}): AttrDef {
  return {
    name,
    type: 'string',
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...over,
  };
}

const multiValue = (name: string, description: string, types: string[]): AttrDef =>
  attr(name, description, {
    type: 'complex',
    multiValued: true,
    subAttributes: [
      attr('value', `The ${description.toLowerCase()} value.`),
      attr('type', 'A label for the value.', { canonicalValues: types }),
      attr('primary', 'The preferred value; at most one per attribute.', { type: 'boolean' }),
    ],
  });

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttrDef[];
}

export const USER_SCHEMA: SchemaDef = {
  id: CORE_USER_URN,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'Unique identifier for the User, compared case-insensitively.', { required: true, uniqueness: 'server' }),
    attr('name', "The components of the user's name.", {
      type: 'complex',
      subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attr(n, `The ${n} part of the name.`)),
    }),
    attr('displayName', 'The name of the User, suitable for display.'),
    attr('nickName', 'The casual way to address the user.'),
    attr('title', "The user's title."),
    attr('userType', 'The relationship between the organization and the user.'),
    attr('preferredLanguage', "The user's preferred written or spoken language."),
    attr('locale', "The user's default location."),
    attr('timezone', "The user's time zone."),
    attr('active', "The user's administrative status.", { type: 'boolean' }),
    multiValue('emails', 'Email address', ['work', 'home', 'other']),
    multiValue('phoneNumbers', 'Phone number', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    attr('groups', 'The groups the user is a direct member of; change memberships through /Groups.', {
      type: 'complex',
      multiValued: true,
      mutability: 'readOnly',
      subAttributes: [
        attr('value', 'The id of the group.', { mutability: 'readOnly', caseExact: true }),
        attr('$ref', 'The URI of the group.', { type: 'reference', referenceTypes: ['Group'], mutability: 'readOnly', caseExact: true }),
        attr('display', 'The displayName of the group.', { mutability: 'readOnly' }),
        attr('type', 'Always "direct": nested memberships are not expanded.', { mutability: 'readOnly', canonicalValues: ['direct'] }),
      ],
    }),
  ],
};

export const ENTERPRISE_SCHEMA: SchemaDef = {
  id: ENTERPRISE_USER_URN,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    ...['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map((n) => attr(n, `The user's ${n}.`)),
    attr('manager', "The user's manager.", {
      type: 'complex',
      subAttributes: [
        attr('value', 'The id of the manager, a User of this server.', { caseExact: true }),
        attr('$ref', 'The URI of the manager.', { type: 'reference', referenceTypes: ['User'], caseExact: true }),
        attr('displayName', 'The displayName of the manager.', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

export const GROUP_SCHEMA: SchemaDef = {
  id: CORE_GROUP_URN,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'A name for the Group, unique case-insensitively.', { required: true, uniqueness: 'server' }),
    attr('members', 'The members of the Group: Users and Groups.', {
      type: 'complex',
      multiValued: true,
      subAttributes: [
        attr('value', 'The id of the member.', { mutability: 'immutable', caseExact: true }),
        attr('$ref', 'The URI of the member.', { type: 'reference', referenceTypes: ['User', 'Group'], mutability: 'immutable', caseExact: true }),
        attr('type', 'The type of the member.', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
      ],
    }),
  ],
};

/** Attributes every resource has (RFC 7643 §3.1), not listed in /Schemas. */
export const COMMON_ATTRIBUTES: AttrDef[] = [
  attr('id', 'Identifier assigned by the server.', { caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server' }),
  attr('externalId', "The provisioning client's identifier.", { caseExact: true }),
  attr('meta', 'Resource metadata.', { type: 'complex', mutability: 'readOnly' }),
];

export type ResourceName = 'User' | 'Group';

/** Finds an attribute by name, case-insensitively. */
export function findAttr(list: readonly AttrDef[] | undefined, name: string): AttrDef | undefined {
  const lower = name.toLowerCase();
  return list?.find((a) => a.name.toLowerCase() === lower);
}

export function coreSchemaOf(resource: ResourceName): SchemaDef {
  return resource === 'User' ? USER_SCHEMA : GROUP_SCHEMA;
}

export function extensionsOf(resource: ResourceName): SchemaDef[] {
  return resource === 'User' ? [ENTERPRISE_SCHEMA] : [];
}
