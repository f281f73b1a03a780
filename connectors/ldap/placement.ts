import { ResultCodeError } from 'ldapts';
import { RemoteError } from '../../src/core/errors.js';
import type { UserAttribute } from '../../src/core/attributes.js';
import { compileTemplate, templateFields } from '../../src/core/template.js';
import type { LdapConnection } from './client.js';
import { describeLdapError } from './client.js';
import { escapeDNValue, formatDN, normalizeDN, parseDN } from './escape.js';

/**
 * Where new entries go: a fixed container or one chosen by a template over the object
 * (`ou={{department}},ou=people,dc=example,dc=org`), and creating missing OUs on the way.
 */

export interface PlacementRule {
  ou: string;
  fallback?: string | undefined;
  createMissing: boolean;
}

/** Short template names → the SCIM attribute a change of which may move the entry. */
const ALIASES: Readonly<Record<string, UserAttribute>> = {
  department: 'enterprise.department',
  division: 'enterprise.division',
  organization: 'enterprise.organization',
  costCenter: 'enterprise.costCenter',
  employeeNumber: 'enterprise.employeeNumber',
  email: 'emails',
  givenName: 'name.givenName',
  familyName: 'name.familyName',
};

const ENTERPRISE_SCALARS = ['employeeNumber', 'costCenter', 'organization', 'division', 'department'] as const;

/** Every string of the object DN-escaped, plus the short aliases, for rendering a container. */
function escapedFields(obj: Record<string, unknown>): Record<string, unknown> {
  const esc = (v: unknown): unknown => {
    if (typeof v === 'string') return escapeDNValue(v);
    if (Array.isArray(v)) return v.map(esc);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, esc(x)]));
    return v;
  };
  const fields = esc(obj) as Record<string, unknown>;
  const ent = fields.enterprise as Record<string, unknown> | undefined;
  if (ent) for (const k of ENTERPRISE_SCALARS) if (ent[k] !== undefined) fields[k] = ent[k];
  const name = fields.name as Record<string, unknown> | undefined;
  if (name?.givenName !== undefined) fields.givenName = name.givenName;
  if (name?.familyName !== undefined) fields.familyName = name.familyName;
  return fields;
}

export class Placement {
  private readonly render: ReturnType<typeof compileTemplate> | undefined;
  private readonly fields: { name: string; render: ReturnType<typeof compileTemplate> }[];
  /** SCIM attributes the template reads: a change of one of them may move the entry. */
  readonly dependsOn: ReadonlySet<string>;

  constructor(
    private readonly rule: PlacementRule | undefined,
    private readonly defaultContainer: string,
  ) {
    this.render = rule ? compileTemplate(rule.ou) : undefined;
    const names = rule ? templateFields(rule.ou) : [];
    this.fields = names.map((name) => ({ name, render: compileTemplate(`{{${name}}}`) }));
    this.dependsOn = new Set(names.map((n) => ALIASES[n] ?? n));
  }

  /** The container DN for an object; the fallback when a field the template names is empty. */
  containerFor(obj: Record<string, unknown>): string {
    if (!this.rule || !this.render) return this.defaultContainer;
    const fields = escapedFields(obj);
    if (this.fields.some((f) => f.render(fields) === undefined)) return this.rule.fallback ?? this.defaultContainer;
    return this.render(fields) ?? this.rule.fallback ?? this.defaultContainer;
  }

  get createMissing(): boolean {
    return this.rule?.createMissing ?? false;
  }
}

/** Containers known to exist, per run, so each is checked once. */
export class Containers {
  private readonly known = new Set<string>();

  constructor(private readonly conn: LdapConnection) {}

  private async exists(dn: string): Promise<boolean> {
    try {
      await this.conn.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
      return true;
    } catch (err) {
      if (err instanceof ResultCodeError && err.code === 32) return false;
      throw err;
    }
  }

  /** Makes sure `dn` exists, creating organizationalUnit entries top-down when allowed. */
  async ensure(dn: string, createMissing: boolean, object: string): Promise<void> {
    const key = normalizeDN(dn);
    if (this.known.has(key)) return;
    if (await this.exists(dn)) {
      this.known.add(key);
      return;
    }
    if (!createMissing) throw new RemoteError(object, `container ${dn} does not exist (createMissing is off)`, 404);
    const rdns = parseDN(dn);
    const top = rdns[0]?.[0];
    if (!top || rdns[0]!.length !== 1 || top.type.toLowerCase() !== 'ou') {
      throw new RemoteError(object, `container ${dn} does not exist and only ou= entries can be created`, 404);
    }
    if (rdns.length > 1) await this.ensure(formatDN(rdns.slice(1)), true, object);
    try {
      await this.conn.add(formatDN(rdns), { objectClass: ['top', 'organizationalUnit'], ou: top.value });
    } catch (err) {
      // Created meanwhile by a concurrent write: fine.
      if (!(err instanceof ResultCodeError && err.code === 68)) throw new RemoteError(object, `creating container ${dn}: ${describeLdapError(err)}`);
    }
    this.known.add(key);
  }
}
