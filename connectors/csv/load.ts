import { resolve } from 'node:path';
import type { ReadWarning, SourceGroup, SourceUser } from '../../src/core/connector.js';
import { InputError } from '../../src/core/errors.js';
import type { MemberRef } from '../../src/core/model.js';
import { compileTemplate, templateFields, type CompiledTemplate } from '../../src/core/template.js';
import type { CsvConfig, CsvFileConfig } from './config.js';
import { compileUserMapping, type UserMapping } from './mapping.js';
import { readCsvTable, type CsvRow, type CsvTable } from './reader.js';

export interface FileStats {
  file: string;
  rows: number;
  columns: readonly string[];
}

/** Everything the CSV files describe, read completely before anything is handed out. */
export interface CsvDirectory {
  users: SourceUser[];
  groups: SourceGroup[];
  files: FileStats[];
}

type Warn = (warning: ReadWarning) => void;

function stats(table: CsvTable): FileStats {
  return { file: table.file, rows: table.rows.length, columns: table.columns };
}

function read(section: CsvFileConfig, configDir: string): Promise<CsvTable> {
  return readCsvTable(resolve(configDir, section.path), section.path, section);
}

/** Header problems are reported before any row is mapped: line 1, naming the columns that exist. */
function requireColumn(table: CsvTable, column: string, usedBy: string): number {
  const index = table.columns.indexOf(column);
  if (index === -1) {
    throw new InputError(
      table.file,
      1,
      undefined,
      `${usedBy} refers to column "${column}", which is not in the header; columns are: ${table.columns.join(', ')}`,
    );
  }
  return index;
}

function requireTemplateColumns(table: CsvTable, source: string, usedBy: string, extra: readonly string[] = []): void {
  for (const field of templateFields(source)) {
    if (!extra.includes(field)) requireColumn(table, field, usedBy);
  }
}

function idOf(table: CsvTable, row: number, column: string, index: number, what: string): string {
  const id = table.rows[row]![column]!;
  if (id === '') {
    // Not skippable like other bad rows: a row without an id cannot be told apart from a person who
    // left, so guessing either way could deactivate someone.
    throw new InputError(table.file, table.lines[row]!, index + 1, `${what} id is empty (column "${column}")`);
  }
  return id;
}

/** Row of each id's first appearance, and every id that appears on more than one row. */
interface IdIndex {
  first: Map<string, number>;
  duplicated: Set<string>;
}

/**
 * Indexes rows by id and reports every row of a duplicated id. All of them are left out: keeping
 * one would be a guess, and the engine must not act on a guess.
 */
function indexIds(table: CsvTable, column: string, index: number, what: string, warn: Warn): IdIndex {
  // One map entry per id; only ids seen again get a list of their rows (normally none do).
  const first = new Map<string, number>();
  let repeated: Map<string, number[]> | undefined;
  for (let i = 0; i < table.rows.length; i++) {
    const id = idOf(table, i, column, index, what);
    const at = first.get(id);
    if (at === undefined) {
      first.set(id, i);
      continue;
    }
    repeated ??= new Map();
    const list = repeated.get(id);
    if (list) list.push(i);
    else repeated.set(id, [at, i]);
  }
  const duplicated = new Set<string>();
  if (repeated === undefined) return { first, duplicated };
  // Reported in order of each id's first row, as the file lists them.
  const ordered = [...repeated].sort((a, b) => a[1][0]! - b[1][0]!);
  for (const [id, rows] of ordered) {
    duplicated.add(id);
    const lines = rows.map((r) => table.lines[r]).join(', ');
    for (const r of rows) {
      warn({
        code: 'duplicate-id',
        message: `${what} id "${id}" appears on lines ${lines}; all ${rows.length} rows are left out of this run`,
        where: `${table.file}:${table.lines[r]}`,
        excluded: { kind: what === 'group' ? 'group' : 'user', id },
      });
    }
  }
  return { first, duplicated };
}

interface ColumnGroupRule {
  column: string;
  name: CompiledTemplate;
  /** The name depends on other columns too, so it is rendered (and compared) for every row. */
  perRow: boolean;
  separator: string | undefined;
}

function groupName(rule: ColumnGroupRule, row: CsvRow, value: string): string {
  // A prototype link instead of a spread: `value` shadows a column of that name without copying the row.
  const fields = Object.create(row) as Record<string, string>;
  fields.value = value;
  return rule.name(fields) ?? value;
}

export async function loadDirectory(config: CsvConfig, configDir: string, warn: Warn): Promise<CsvDirectory> {
  const mapping = compileUserMapping(config.mapping);
  const usersTable = await read(config.users, configDir);
  const users = buildUsers(config, mapping, usersTable, warn);
  const files = [stats(usersTable)];

  const groups = new Map<string, SourceGroup>();
  // Membership de-duplication sets are built only once a second source of members for a group
  // appears (another column rule, a parent link, the memberships file): the first column rule
  // visits each included user on exactly one row, so it needs none, and 100k users in a no-op run
  // would otherwise pay for a set entry each.
  const memberKeys = new Map<string, Set<string>>();
  // User ids need no prefix; group ids get one that no id starts with.
  const keyOf = (ref: MemberRef) => (ref.type === 'User' ? ref.value : `\u0000${ref.value}`);
  const addMember = (groupId: string, ref: MemberRef) => {
    const group = groups.get(groupId)!;
    let seen = memberKeys.get(groupId);
    if (seen === undefined) {
      seen = new Set(group.members.map(keyOf));
      memberKeys.set(groupId, seen);
    }
    const key = keyOf(ref);
    if (seen.has(key)) return;
    seen.add(key);
    group.members.push(ref);
  };

  const rules: ColumnGroupRule[] = config.users.groups.map((g, i) => {
    requireColumn(usersTable, g.column, `users.groups[${i}].column`);
    requireTemplateColumns(usersTable, g.name, `users.groups[${i}].name`, ['value']);
    const perRow = templateFields(g.name).some((f) => f !== 'value');
    return { column: g.column, name: compileTemplate(g.name), perRow, separator: g.separator };
  });
  const rows = usersTable.rows;
  const userIdColumn = config.users.id;
  rules.forEach((rule, ruleIndex) => {
    const warnedNames = new Set<string>();
    // Groups of this rule by cell value: saves building the `column:value` id for every row.
    const byValue = new Map<string, SourceGroup>();
    const checked = ruleIndex > 0;
    // Every row, excluded ones too, decides which groups exist: a group whose only member was left
    // out this run must not vanish (and be deleted) because of it.
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const cell = row[rule.column]!;
      if (cell === '') continue;
      const parts = rule.separator ? cell.split(rule.separator).map((p) => p.trim()) : undefined;
      const count = parts ? parts.length : 1;
      for (let p = 0; p < count; p++) {
        const value = parts ? parts[p]! : cell;
        if (value === '') continue;
        let group = byValue.get(value);
        if (!group) {
          // Another rule over the same column may have made it already.
          group = groups.get(`${rule.column}:${value}`);
          if (group) byValue.set(value, group);
        }
        const displayName = group && !rule.perRow ? group.displayName : groupName(rule, row, value);
        if (!group) {
          group = { id: `${rule.column}:${value}`, displayName, members: [] };
          groups.set(group.id, group);
          byValue.set(value, group);
        } else if (group.displayName !== displayName && !warnedNames.has(group.id)) {
          warnedNames.add(group.id);
          warn({
            code: 'inconsistent-group-name',
            message: `group "${group.id}" is named "${group.displayName}" earlier and "${displayName}" here; keeping "${group.displayName}"`,
            where: `${usersTable.file}:${usersTable.lines[i]}`,
          });
        }
        if (!users.rowIncluded[i]) continue;
        // A value repeated within one cell: its first occurrence added the member already.
        if (parts && parts.indexOf(value) !== p) continue;
        const ref: MemberRef = { type: 'User', value: row[userIdColumn]! };
        if (checked) addMember(group.id, ref);
        else group.members.push(ref);
      }
    }
  });

  const excludedGroups = new Set<string>();
  if (config.groups) {
    const section = config.groups;
    const table = await read(section, configDir);
    files.push(stats(table));
    const idIndex = requireColumn(table, section.id, 'groups.id');
    const isTemplate = section.name.includes('{{');
    const nameIndex = isTemplate ? undefined : requireColumn(table, section.name, 'groups.name');
    if (isTemplate) requireTemplateColumns(table, section.name, 'groups.name');
    const nameOf = isTemplate ? compileTemplate(section.name) : undefined;
    const parentIndex = section.parent === undefined ? undefined : requireColumn(table, section.parent, 'groups.parent');

    const { duplicated } = indexIds(table, section.id, idIndex, 'group', warn);
    for (const id of duplicated) excludedGroups.add(id);
    const parents = new Map<string, { parent: string; line: number }>();
    for (let i = 0; i < table.rows.length; i++) {
      const row = table.rows[i]!;
      const line = table.lines[i]!;
      const id = row[section.id]!;
      if (duplicated.has(id)) continue;
      if (groups.has(id)) {
        throw new InputError(table.file, line, idIndex + 1, `group id "${id}" is also the id of a group derived from a users column`);
      }
      const displayName = nameOf ? nameOf(row) : row[section.name] || undefined;
      if (displayName === undefined) {
        throw new InputError(table.file, line, nameIndex === undefined ? undefined : nameIndex + 1, `group "${id}" has an empty name`);
      }
      groups.set(id, { id, displayName, members: [], raw: row });
      const parent = section.parent === undefined ? '' : row[section.parent]!;
      if (parent !== '') parents.set(id, { parent, line });
    }

    const column = parentIndex === undefined ? undefined : parentIndex + 1;
    for (const [id, { parent, line }] of parents) {
      if (excludedGroups.has(parent)) {
        warn({
          code: 'unknown-parent',
          message: `parent group "${parent}" of "${id}" has a duplicated id and is left out; "${id}" is kept without its parent this run`,
          where: `${table.file}:${line}`,
        });
        continue;
      }
      if (!groups.has(parent)) throw new InputError(table.file, line, column, `unknown parent group "${parent}"`);
    }
    // Cycles: follow parent links from each group; meeting the starting group again is a cycle.
    const acyclic = new Set<string>();
    for (const start of parents.keys()) {
      const chain: string[] = [];
      const onChain = new Set<string>();
      let cur: string | undefined = start;
      while (cur !== undefined && !acyclic.has(cur)) {
        if (onChain.has(cur)) {
          const cycle = [...chain.slice(chain.indexOf(cur)), cur];
          throw new InputError(table.file, parents.get(cur)!.line, column, `parent cycle: ${cycle.join(' → ')}`);
        }
        onChain.add(cur);
        chain.push(cur);
        const link = parents.get(cur);
        cur = link && groups.has(link.parent) ? link.parent : undefined;
      }
      for (const g of chain) acyclic.add(g);
    }
    for (const [id, { parent }] of parents) {
      if (groups.has(parent)) addMember(parent, { type: 'Group', value: id });
    }
  }

  if (config.memberships) {
    const section = config.memberships;
    const table = await read(section, configDir);
    files.push(stats(table));
    requireColumn(table, section.group, 'memberships.group');
    requireColumn(table, section.user, 'memberships.user');
    for (let i = 0; i < table.rows.length; i++) {
      const row = table.rows[i]!;
      const groupId = row[section.group]!;
      const userId = row[section.user]!;
      let problem: string | undefined;
      if (!groups.has(groupId)) {
        problem = excludedGroups.has(groupId)
          ? `group "${groupId}" is left out (duplicated id)`
          : groupId === ''
            ? 'group id is empty'
            : `unknown group "${groupId}"`;
      } else if (!users.isIncluded(userId)) {
        problem = users.excluded.has(userId)
          ? `user "${userId}" is left out this run (${users.excluded.get(userId)})`
          : userId === ''
            ? 'user id is empty'
            : `unknown user "${userId}"`;
      }
      if (problem) {
        warn({ code: 'unknown-member', message: `membership skipped: ${problem}`, where: `${table.file}:${table.lines[i]}` });
        continue;
      }
      addMember(groupId, { type: 'User', value: userId });
    }
  }

  return { users: users.included, groups: [...groups.values()], files };
}

interface BuiltUsers {
  included: SourceUser[];
  /** By row of the users file: 1 when that row's user is in `included`. */
  rowIncluded: Uint8Array;
  isIncluded(id: string): boolean;
  /** Ids left out this run, with the reason. */
  excluded: Map<string, string>;
}

function buildUsers(config: CsvConfig, mapping: UserMapping, table: CsvTable, warn: Warn): BuiltUsers {
  const section = config.users;
  const idIndex = requireColumn(table, section.id, 'users.id');
  for (const ref of mapping.references) {
    for (const column of ref.columns) requireColumn(table, column, `mapping.${ref.key}`);
  }
  const status = section.status;
  if (status) requireColumn(table, status.column, 'users.status.column');
  const activeValues = new Set(status?.active.map((v) => v.trim().toLowerCase()));
  const inactiveValues = status?.inactive ? new Set(status.inactive.map((v) => v.trim().toLowerCase())) : undefined;

  const { first, duplicated } = indexIds(table, section.id, idIndex, 'user', warn);
  const excluded = new Map<string, string>();
  for (const id of duplicated) excluded.set(id, 'duplicated id');
  const { rows, lines } = table;
  const rowIncluded = new Uint8Array(rows.length);
  // Included ids are looked up through the id index and this per-row flag, not a set of their own.
  const isIncluded = (id: string): boolean => {
    const row = first.get(id);
    return row !== undefined && rowIncluded[row] === 1;
  };
  const included: SourceUser[] = [];
  const includedRows: number[] = [];
  const userNames = new Map<string, string>();
  const where = (i: number) => `${table.file}:${lines[i]}`;

  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const id = row[section.id]!;
    if (duplicated.size > 0 && duplicated.has(id)) continue;
    let active = true;
    if (status) {
      const value = row[status.column]!.toLowerCase();
      active = activeValues.has(value);
      if (!active && inactiveValues && !inactiveValues.has(value)) {
        warn({
          code: 'unknown-status',
          message: `user "${id}" has status "${row[status.column]}", which is neither an active nor an inactive value; left out of this run`,
          where: where(i),
          excluded: { kind: 'user', id },
        });
        excluded.set(id, 'unknown status');
        continue;
      }
    }
    const mapped = mapping.map(row, { id, active, raw: row });
    if (mapped.userName === undefined) {
      warn({ code: 'missing-username', message: `user "${id}" has an empty userName after mapping; left out of this run`, where: where(i), excluded: { kind: 'user', id } });
      excluded.set(id, 'empty userName');
      continue;
    }
    const key = mapped.userName.toLowerCase();
    const clash = userNames.get(key);
    if (clash !== undefined) {
      warn({ code: 'duplicate-username', message: `users "${clash}" and "${id}" both have userName "${mapped.userName}"`, where: where(i) });
    } else userNames.set(key, id);
    included.push(mapped as SourceUser);
    includedRows.push(i);
    rowIncluded[i] = 1;
  }

  for (let i = 0; i < included.length; i++) {
    const u = included[i]!;
    const manager = u.enterprise?.manager?.value;
    if (manager === undefined || isIncluded(manager)) continue;
    const reason = excluded.has(manager) ? `is left out this run (${excluded.get(manager)})` : 'is not in the file';
    warn({
      code: 'unknown-manager',
      message: `manager "${manager}" of user "${u.id}" ${reason}`,
      where: where(includedRows[i]!),
    });
  }
  return { included, rowIncluded, isIncluded, excluded };
}
