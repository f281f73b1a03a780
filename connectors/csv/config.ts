import { z } from 'zod';
import { USER_ATTRIBUTES } from '../../src/core/attributes.js';
import { compileTemplate, TemplateError } from '../../src/core/template.js';

/**
 * Mapping keys are attribute paths plus a few aliases for what HR files actually have: one work
 * email, a work phone, a mobile and the manager's employee id. `active` comes from `status` and
 * `externalId` is the engine's anchor, so neither may be mapped.
 */
export const MAPPING_ALIASES = ['email', 'phone', 'mobile', 'manager'] as const;
const NOT_MAPPABLE: ReadonlySet<string> = new Set(['active', 'externalId']);
export const MAPPING_KEYS: readonly string[] = [
  ...USER_ATTRIBUTES.filter((a) => !NOT_MAPPABLE.has(a)),
  ...MAPPING_ALIASES,
];
const mappingKeySet: ReadonlySet<string> = new Set(MAPPING_KEYS);

/** Pairs that would both write the same attribute. */
const CONFLICTS: readonly (readonly [string, string])[] = [
  ['email', 'emails'],
  ['phone', 'phoneNumbers'],
  ['mobile', 'phoneNumbers'],
  ['manager', 'enterprise.manager'],
];

const nonEmpty = z.string().min(1, 'must not be empty');

const templateString = z.string().superRefine((value, ctx) => {
  try {
    compileTemplate(value);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});

/** Options shared by every CSV file the connector reads. */
const fileShape = {
  /** Relative paths resolve against the config file's directory. */
  path: nonEmpty,
  delimiter: z.enum([',', ';', '\t', '|']).default(','),
  quote: z.string().length(1, 'must be a single character').default('"'),
  encoding: z.enum(['utf8', 'latin1']).default('utf8'),
  /** When false the first row is data and `columns` names the fields. */
  header: z.boolean().default(true),
  /** Column names; with `header: true` they replace the names in the file's first row. */
  columns: z.array(nonEmpty).min(1).optional(),
  /** Strip spaces around every cell: padded exports would otherwise cause endless diffs. */
  trim: z.boolean().default(true),
};

function requireColumnsWithoutHeader(value: { header: boolean; columns?: string[] | undefined }, ctx: z.RefinementCtx): void {
  if (!value.header && !value.columns) {
    ctx.addIssue({ code: 'custom', path: ['columns'], message: 'required when header is false' });
  }
  if (value.columns) {
    const seen = new Set<string>();
    value.columns.forEach((c, i) => {
      if (seen.has(c)) ctx.addIssue({ code: 'custom', path: ['columns', i], message: `duplicate column name "${c}"` });
      seen.add(c);
    });
  }
}

const statusSchema = z.strictObject({
  column: nonEmpty,
  /** Values (case-insensitive) meaning the person is active. */
  active: z.array(z.string()).min(1),
  /**
   * Values meaning inactive. When given, any other value is treated as a typo: the row is left
   * out with a warning instead of deactivating someone by accident.
   */
  inactive: z.array(z.string()).min(1).optional(),
});

const columnGroupSchema = z.strictObject({
  column: nonEmpty,
  /** displayName template; may use {{value}} and any column of the row. */
  name: templateString.default('{{value}}'),
  /** Split a cell into several groups, e.g. "admins;vpn-users" with separator ";". */
  separator: z.string().min(1).optional(),
});

const usersSchema = z
  .strictObject({
    ...fileShape,
    /** Column with the stable person id (employee number). */
    id: nonEmpty,
    status: statusSchema.optional(),
    groups: z.array(columnGroupSchema).default([]),
  })
  .superRefine(requireColumnsWithoutHeader);

const groupsSchema = z
  .strictObject({
    ...fileShape,
    id: nonEmpty,
    /** A column name, or a template when it contains "{{". */
    name: templateString,
    /** Column holding the parent group's id; the group becomes a member of its parent. */
    parent: nonEmpty.optional(),
  })
  .superRefine(requireColumnsWithoutHeader);

const membershipsSchema = z
  .strictObject({
    ...fileShape,
    /** Column with the group id (from the groups file, or a column group id like "department:Sales"). */
    group: nonEmpty,
    /** Column with the user's id (the users file's id column value). */
    user: nonEmpty,
  })
  .superRefine(requireColumnsWithoutHeader);

const mappingSchema = z
  .record(z.string(), templateString, {
    error: (issue) => (issue.input === undefined ? 'required; map at least userName, e.g. userName: "{{email | lower}}"' : undefined),
  })
  .superRefine((mapping, ctx) => {
  for (const key of Object.keys(mapping)) {
    if (NOT_MAPPABLE.has(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message:
          key === 'active'
            ? '"active" cannot be mapped; it comes from users.status'
            : '"externalId" cannot be mapped; the sync engine sets it to the source id',
      });
    } else if (!mappingKeySet.has(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `unknown attribute "${key}"; valid keys are: ${MAPPING_KEYS.join(', ')}`,
      });
    }
  }
  for (const [a, b] of CONFLICTS) {
    if (a in mapping && b in mapping) {
      ctx.addIssue({ code: 'custom', path: [b], message: `"${a}" and "${b}" both set the same attribute; keep one` });
    }
  }
  if (!('userName' in mapping)) {
    ctx.addIssue({ code: 'custom', path: [], message: 'userName must be mapped, e.g. userName: "{{email | lower}}"' });
  }
});

export const csvConfigSchema = z.strictObject({
  users: usersSchema,
  mapping: mappingSchema,
  groups: groupsSchema.optional(),
  memberships: membershipsSchema.optional(),
});

export type CsvConfig = z.output<typeof csvConfigSchema>;
export type CsvUsersConfig = CsvConfig['users'];
export type CsvGroupsConfig = NonNullable<CsvConfig['groups']>;
export type CsvMembershipsConfig = NonNullable<CsvConfig['memberships']>;
/** The options every file section shares, as the reader needs them. */
export type CsvFileConfig = Pick<CsvUsersConfig, 'path' | 'delimiter' | 'quote' | 'encoding' | 'header' | 'columns' | 'trim'>;
