import { RemoteError } from '../../src/core/errors.js';
import type { MemberType } from '../../src/core/model.js';
import { EqualityFilter, OrFilter } from 'ldapts';
import type { Filter } from 'ldapts';
import { guidFilter } from './ad/guid.js';
import { resultCode } from './client.js';
import type { LdapConnection } from './client.js';
import { anchorOf, attrsOf, first } from './mapping.js';
import type { Settings } from './settings.js';

/** Anchors per OR filter: short enough for any server's filter limits, few enough round trips. */
const BATCH = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Located {
  dn: string;
  /** posixGroup members are written as uids. */
  uid?: string;
}

/**
 * Target ids are anchors (entryUUID / objectGUID), never DNs: this finds the current DN of each,
 * in batches (`(|(entryUUID=…)(entryUUID=…))`), and remembers them for the rest of the run.
 * Renames and moves made by the writer update the cache.
 */
export class AnchorResolver {
  private readonly cache = new Map<string, Located>();

  constructor(
    private readonly conn: LdapConnection,
    private readonly settings: Settings,
  ) {}

  /**
   * Filter objects, not strings: ldapts (8.2) writes a parsed string filter's `\xx` escapes as
   * UTF-8 characters, so an escaped binary objectGUID would go out with the wrong bytes and find
   * nothing (connectors/ldap/ad/README.md). An EqualityFilter carries the raw bytes.
   */
  private filterFor(id: string): Filter | undefined {
    if (!UUID.test(id)) return undefined;
    if (this.settings.defaults.anchorBinary) return guidFilter(id);
    return new EqualityFilter({ attribute: this.settings.anchor, value: id });
  }

  remember(id: string, located: Located): void {
    this.cache.set(id.toLowerCase(), located);
  }

  forget(id: string): void {
    this.cache.delete(id.toLowerCase());
  }

  /** The DNs of `ids` that exist under the bases for `type`; missing ones are absent from the map. */
  async locate(type: MemberType, ids: readonly string[]): Promise<Map<string, Located>> {
    const out = new Map<string, Located>();
    const todo: string[] = [];
    for (const id of ids) {
      const hit = this.cache.get(id.toLowerCase());
      if (hit) out.set(id, hit);
      else if (this.filterFor(id)) todo.push(id);
    }
    const bases = type === 'User' ? this.settings.searchBases.users : this.settings.searchBases.groups;
    for (let i = 0; i < todo.length; i += BATCH) {
      const batch = todo.slice(i, i + BATCH);
      const filters = batch.map((id) => this.filterFor(id)!);
      const filter = filters.length === 1 ? filters[0]! : new OrFilter({ filters });
      const wanted = new Map(batch.map((id) => [id.toLowerCase(), id]));
      for (const base of bases) {
        const entries = await this.conn
          .search(base, {
            scope: 'sub',
            filter,
            attributes: [this.settings.anchor, 'uid'],
            explicitBufferAttributes: this.settings.defaults.anchorBinary ? [this.settings.anchor] : [],
          })
          // A base that does not exist (yet: the disabled OU) holds nothing.
          .catch((err: unknown) => (resultCode(err) === 32 ? [] : Promise.reject(err)));
        for (const e of entries) {
          const attrs = attrsOf(e);
          const anchor = anchorOf(attrs, this.settings);
          const id = anchor && wanted.get(anchor);
          if (!id || out.has(id)) continue;
          const uid = first(attrs, 'uid');
          const located: Located = uid !== undefined ? { dn: e.dn, uid } : { dn: e.dn };
          this.remember(id, located);
          out.set(id, located);
        }
      }
    }
    return out;
  }

  /** The DN of one object, or a RemoteError naming the id when there is no such entry. */
  async dnOf(type: MemberType, id: string, object: string): Promise<string> {
    const found = (await this.locate(type, [id])).get(id);
    if (!found) throw this.missing(type, id, object);
    return found.dn;
  }

  missing(type: MemberType, id: string, object: string): RemoteError {
    const bases = (type === 'User' ? this.settings.searchBases.users : this.settings.searchBases.groups).join('; ');
    return new RemoteError(object, `no ${type === 'User' ? 'user' : 'group'} with ${this.settings.anchor} ${id} under ${bases}`, 404);
  }
}
