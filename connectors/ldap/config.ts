import { z } from 'zod';
import { compileTemplate, TemplateError } from '../../src/core/template.js';
import { parseDN } from './escape.js';
import { FLAVORS, GROUP_MAP_KEYS, USER_MAP_KEYS } from './flavors.js';

/**
 * Configuration of an LDAP / Active Directory connection. Only `url`, `bindDN`, `bindPassword`
 * and the base DNs are required; everything else defaults per `flavor` (connectors/ldap/flavors.ts).
 * The README documents each key.
 */

const nonEmpty = z.string().min(1, 'must not be empty');
const positiveInt = z.number().int().positive();

const dn = nonEmpty.superRefine((value, ctx) => {
  try {
    parseDN(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const template = nonEmpty.superRefine((value, ctx) => {
  try {
    compileTemplate(value);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});

const filter = nonEmpty.refine((f) => f.startsWith('(') && f.endsWith(')'), 'must be an LDAP filter in parentheses, e.g. (objectClass=inetOrgPerson)');
const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*$|^[0-9]+(\.[0-9]+)+$/, 'must be an LDAP attribute name');

/** An attribute name, or null to turn a default mapping off. */
const mapValue = attributeName.nullable();

const placement = z.strictObject({
  /**
   * The container DN for new entries: a template over the SCIM-shaped object, e.g.
   * `ou={{department}},ou=people,dc=example,dc=org` (values are DN-escaped when inserted).
   */
  ou: template,
  /** Used when a field the template names is empty. Default: the first base DN. */
  fallback: dn.optional(),
  /** Create missing organizationalUnit entries on the way (default false: a missing OU is an error). */
  createMissing: z.boolean().default(false),
});

const scope = z.enum(['base', 'one', 'sub']);

const usersSchema = z.strictObject({
  baseDNs: z.array(dn).min(1),
  scope: scope.default('sub'),
  filter: filter.optional(),
  /** Attributes read besides the mapped ones (for `raw` in job templates). Default ['*']. */
  attributes: z.array(z.union([attributeName, z.literal('*'), z.literal('+')])).default(['*']),
  objectClasses: z.array(attributeName).min(1).optional(),
  rdnAttribute: attributeName.optional(),
  placement: placement.optional(),
  map: z.partialRecord(z.enum(USER_MAP_KEYS), mapValue).optional(),
});

const groupsSchema = z.strictObject({
  baseDNs: z.array(dn).min(1),
  scope: scope.default('sub'),
  filter: filter.optional(),
  attributes: z.array(z.union([attributeName, z.literal('*'), z.literal('+')])).default([]),
  objectClasses: z.array(attributeName).min(1).optional(),
  rdnAttribute: attributeName.optional(),
  /** Attribute written for members: DNs (`member`, `uniqueMember`) or uids (`memberUid`). */
  memberAttribute: z.enum(['member', 'uniqueMember', 'memberUid']).optional(),
  placement: placement.optional(),
  map: z.partialRecord(z.enum(GROUP_MAP_KEYS), mapValue).optional(),
  /** `keep`: groups inside groups are Group members; `flatten`: their users are listed instead. */
  nested: z.enum(['keep', 'flatten']).default('keep'),
  /** Placeholder member of an otherwise empty groupOfNames (ignored when reading). */
  emptyMember: dn.default('cn=nobody'),
});

const deactivateSchema = z.union([
  z.strictObject({
    /** OpenLDAP: a user is inactive when this attribute holds `value`. */
    attribute: attributeName,
    value: nonEmpty.default('disabled'),
  }),
  z.strictObject({
    /** OpenLDAP: deactivated users are moved into this container (inactive = below it). */
    moveTo: dn,
    createMissing: z.boolean().default(false),
  }),
]);

export const ldapConfigSchema = z
  .strictObject({
    flavor: z.enum(['openldap', 'ad']).default('openldap'),
    url: z.string().regex(/^ldaps?:\/\/[^/\s]+\/?$/i, 'must be ldap://host[:port] or ldaps://host[:port]'),
    /** Upgrade an ldap:// connection with StartTLS before binding. */
    startTLS: z.boolean().default(false),
    tls: z
      .strictObject({
        /** PEM CA certificate(s), relative to the config file. */
        caFile: nonEmpty.optional(),
        /** Turns certificate verification off. Test servers only; a warning is logged. */
        insecure: z.boolean().optional(),
      })
      .optional(),
    bindDN: nonEmpty,
    bindPassword: nonEmpty,
    timeouts: z
      .strictObject({ connect: positiveInt.default(10_000), operation: positiveInt.default(120_000) })
      .default({ connect: 10_000, operation: 120_000 }),
    pageSize: positiveInt.max(100_000).default(1000),
    users: usersSchema,
    groups: groupsSchema,
    /** Member values per modify request (AD's default MaxValRange / admin limits: keep it ≤ 1,500). */
    memberChunkSize: positiveInt.max(100_000).default(500),
    deactivate: deactivateSchema.optional(),
    /** Hard deletes of users and groups; off unless set (deactivate is the safe default). */
    allowDelete: z.boolean().default(false),
    delta: z
      .strictObject({
        /** Seconds subtracted from the modifyTimestamp watermark (clock skew between hosts). */
        skewSeconds: z.number().int().min(0).default(120),
      })
      .default({ skewSeconds: 120 }),
    ad: z
      .strictObject({
        /**
         * Set a random initial password on created users (over ldaps or StartTLS only) and enable
         * them; without this, AD users are created disabled.
         */
        initialPassword: z
          .strictObject({ length: positiveInt.min(12).max(128).default(24), mustChange: z.boolean().default(true) })
          .optional(),
        /** Ranged retrieval step for `member;range=` (AD's MaxValRange is 1,500). */
        rangeSize: positiveInt.max(100_000).default(1500),
        /** AD groupType for new groups (default: global security group). */
        groupType: z.number().int().default(-2147483646),
      })
      .default({ rangeSize: 1500, groupType: -2147483646 }),
  })
  .superRefine((c, ctx) => {
    if (c.startTLS && c.url.toLowerCase().startsWith('ldaps:')) {
      ctx.addIssue({ code: 'custom', path: ['startTLS'], message: 'StartTLS is for ldap:// URLs; ldaps:// is already encrypted' });
    }
    if (c.deactivate && 'attribute' in c.deactivate) {
      const want = c.deactivate.attribute.toLowerCase();
      const mapped = { ...FLAVORS[c.flavor].users.map, ...c.users.map };
      const clash = Object.entries(mapped).find(([, attr]) => typeof attr === 'string' && attr.toLowerCase() === want);
      if (clash) {
        ctx.addIssue({
          code: 'custom',
          path: ['deactivate', 'attribute'],
          message: `${c.deactivate.attribute} is also mapped from ${clash[0]} (users.map); set users.map.${clash[0]} to null or pick another attribute`,
        });
      }
    }
    if (c.flavor === 'ad' && c.deactivate) {
      ctx.addIssue({ code: 'custom', path: ['deactivate'], message: 'AD deactivates through userAccountControl; remove this key' });
    }
  });

export type LdapConfig = z.infer<typeof ldapConfigSchema>;
export type LdapConfigInput = z.input<typeof ldapConfigSchema>;

/** Config keys holding secrets: redacted wherever config is shown. */
export const LDAP_SECRET_KEYS = ['bindPassword'] as const;
