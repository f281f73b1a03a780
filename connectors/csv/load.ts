import { resolve } from 'node:path';
import type { ReadWarning, SourceGroup, SourceUser } from '../../src/core/connector.js';
import { InputError } from '../../src/core/errors.js';
import type { MemberRef } from '../../src/core/model.js';
import { compileTemplate, templateFields, type CompiledTemplate } from '../../src/core/template.js';
import type { CsvConfig, CsvFileConfig } from './config.js';
import { compileUserMapping, type UserMapping } from './mapping.js';
import { readCsvTable, type CsvRecord, type CsvTable } from './reader.js';

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
  return { file: table.file, rows: table.records.length, columns: table.columns };
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

function idOf(table: CsvTable, record: CsvRecord, column: string, index: number, what: string): string {
  const id = record.values[column]!;
  if (id === '') {
    // Not skippable like other bad rows: a row without an id cannot be told apart from a person who
    // left, so guessing either way could deactivate someone.
    throw new InputError(table.file, record.line, index + 1, `${what} id is empty (column "${column}")`);
  }
  return id;
}

/**
 * Groups rows by id and reports every row of a duplicated id. All of them are left out: keeping
 * one would be a guess, and the engine must not act on a guess.
 */
function splitDuplicates(
  table: CsvTable,
  column: string,
  index: number,
  what: string,
  warn: Warn,
): { unique: CsvRecord[]; duplicated: Set<string> } {
  const byId = new Map<string, CsvRecord[]>();
  const order: string[] = [];
  for (const record of table.records) {
    const id = idOf(table, record, column, index, what);
    const list = byId.get(id);
    if (list) list.push(record);
    else {
      byId.set(id, [record]);
      order.push(id);
    }
  }
  const unique: CsvRecord[] = [];
  const duplicated = new Set<string>();
  for (const id of order) {
    const list = byId.get(id)!;
    if (list.length === 1) {
      unique.push(list[0]!);
      continue;
    }
    duplicated.add(id);
    const lines = list.map((r) => r.line).join(', ');
    for (const r of list) {
      warn({
        code: 'duplicate-id',
        message: `${what} id "${id}" appears on lines ${lines}; all ${list.length} rows are left out of this run`,
        where: `${table.file}:${r.line}`,
        excluded: { kind: what === 'group' ? 'group' : 'user', id },
      });
    }
  }
  return { unique, duplicated };
}

interface ColumnGroupRule {
  column: string;
  name: CompiledTemplate;
  /** The name depends on other columns too, so it is rendered (and compared) for every row. */
  perRow: boolean;
  separator: string | undefined;
}

function groupName(rule: ColumnGroupRule, record: CsvRecord, value: string): string {
  // A prototype link instead of a spread: `value` shadows a column of that name without copying the row.
  const fields = Object.create(record.values) as Record<string, string>;
  fields.value = value;
  return rule.name(fields) ?? value;
}

export async function loadDirectory(config: CsvConfig, configDir: string, warn: Warn): Promise<CsvDirectory> {
  const mapping = compileUserMapping(config.mapping);
  const usersTable = await read(config.users, configDir);
  const users = buildUsers(config, mapping, usersTable, warn);
  const files = [stats(usersTable)];

  const groups = new Map<string, SourceGroup>();
  const groupMembers = new Map<string, Set<string>>();
  const addMember = (groupId: string, ref: MemberRef) => {
    // User ids need no prefix (no allocation per member); group ids get one that no id starts with.
    const key = ref.type === 'User' ? ref.value : `\u0000${ref.value}`;
    const seen = groupMembers.get(groupId)!;
    if (seen.has(key)) return;
    seen.add(key);
    groups.get(groupId)!.members.push(ref);
  };

  const rules: ColumnGroupRule[] = config.users.groups.map((g, i) => {
    requireColumn(usersTable, g.column, `users.groups[${i}].column`);
    requireTemplateColumns(usersTable, g.name, `users.groups[${i}].name`, ['value']);
    const perRow = templateFields(g.name).some((f) => f !== 'value');
    return { column: g.column, name: compileTemplate(g.name), perRow, separator: g.separator };
  });
  const included = users.ids;
  for (const rule of rules) {
    const warnedNames = new Set<string>();
    // Every row, excluded ones too, decides which groups exist: a group whose only member was left
    // out this run must not vanish (and be deleted) because of it.
    for (const record of usersTable.records) {
      const cell = record.values[rule.column]!;
      if (cell === '') continue;
      const parts = rule.separator ? cell.split(rule.separator).map((p) => p.trim()) : [cell];
      for (const value of parts) {
        if (value === '') continue;
        const id = `${rule.column}:${value}`;
        let group = groups.get(id);
        const displayName = group && !rule.perRow ? group.displayName : groupName(rule, record, value);
        if (!group) {
          group = { id, displayName, members: [] };
          groups.set(id, group);
          groupMembers.set(id, new Set());
        } else if (group.displayName !== displayName && !warnedNames.has(id)) {
          warnedNames.add(id);
          warn({
            code: 'inconsistent-group-name',
            message: `group "${id}" is named "${group.displayName}" earlier and "${displayName}" here; keeping "${group.displayName}"`,
            where: `${usersTable.file}:${record.line}`,
          });
        }
        const userId = record.values[config.users.id]!;
        if (included.has(userId)) addMember(id, { type: 'User', value: userId });
      }
    }
  }

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

    const { unique, duplicated } = splitDuplicates(table, section.id, idIndex, 'group', warn);
    for (const id of duplicated) excludedGroups.add(id);
    const parents = new Map<string, { parent: string; line: number }>();
    for (const record of unique) {
      const id = record.values[section.id]!;
      if (groups.has(id)) {
        throw new InputError(table.file, record.line, idIndex + 1, `group id "${id}" is also the id of a group derived from a users column`);
      }
      const displayName = nameOf ? nameOf(record.values) : record.values[section.name] || undefined;
      if (displayName === undefined) {
        throw new InputError(table.file, record.line, nameIndex === undefined ? undefined : nameIndex + 1, `group "${id}" has an empty name`);
      }
      groups.set(id, { id, displayName, members: [], raw: record.values });
      groupMembers.set(id, new Set());
      const parent = section.parent === undefined ? '' : record.values[section.parent]!;
      if (parent !== '') parents.set(id, { parent, line: record.line });
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
    for (const record of table.records) {
      const groupId = record.values[section.group]!;
      const userId = record.values[section.user]!;
      const where = `${table.file}:${record.line}`;
      let problem: string | undefined;
      if (!groups.has(groupId)) {
        problem = excludedGroups.has(groupId)
          ? `group "${groupId}" is left out (duplicated id)`
          : groupId === ''
            ? 'group id is empty'
            : `unknown group "${groupId}"`;
      } else if (!included.has(userId)) {
        problem = users.excluded.has(userId)
          ? `user "${userId}" is left out this run (${users.excluded.get(userId)})`
          : userId === ''
            ? 'user id is empty'
            : `unknown user "${userId}"`;
      }
      if (problem) {
        warn({ code: 'unknown-member', message: `membership skipped: ${problem}`, where });
        continue;
      }
      addMember(groupId, { type: 'User', value: userId });
    }
  }

  return { users: users.included, groups: [...groups.values()], files };
}

function buildUsers(
  config: CsvConfig,
  mapping: UserMapping,
  table: CsvTable,
  warn: Warn,
): { included: SourceUser[]; ids: Set<string>; excluded: Map<string, string> } {
  const section = config.users;
  const idIndex = requireColumn(table, section.id, 'users.id');
  for (const ref of mapping.references) {
    for (const column of ref.columns) requireColumn(table, column, `mapping.${ref.key}`);
  }
  const status = section.status;
  if (status) requireColumn(table, status.column, 'users.status.column');
  const activeValues = new Set(status?.active.map((v) => v.trim().toLowerCase()));
  const inactiveValues = status?.inactive ? new Set(status.inactive.map((v) => v.trim().toLowerCase())) : undefined;

  const { unique, duplicated } = splitDuplicates(table, section.id, idIndex, 'user', warn);
  const excluded = new Map<string, string>();
  for (const id of duplicated) excluded.set(id, 'duplicated id');
  const included: SourceUser[] = [];
  const userNames = new Map<string, string>();
  const lines: number[] = [];

  for (const record of unique) {
    const id = record.values[section.id]!;
    const where = `${table.file}:${record.line}`;
    let active = true;
    if (status) {
      const value = record.values[status.column]!.toLowerCase();
      active = activeValues.has(value);
      if (!active && inactiveValues && !inactiveValues.has(value)) {
        warn({
          code: 'unknown-status',
          message: `user "${id}" has status "${record.values[status.column]}", which is neither an active nor an inactive value; left out of this run`,
          where,
          excluded: { kind: 'user', id },
        });
        excluded.set(id, 'unknown status');
        continue;
      }
    }
    const mapped = mapping.map(record.values, { id, active, raw: record.values });
    if (mapped.userName === undefined) {
      warn({ code: 'missing-username', message: `user "${id}" has an empty userName after mapping; left out of this run`, where, excluded: { kind: 'user', id } });
      excluded.set(id, 'empty userName');
      continue;
    }
    const key = mapped.userName.toLowerCase();
    const clash = userNames.get(key);
    if (clash !== undefined) {
      warn({ code: 'duplicate-username', message: `users "${clash}" and "${id}" both have userName "${mapped.userName}"`, where });
    } else userNames.set(key, id);
    included.push(mapped as SourceUser);
    lines.push(record.line);
  }

  const ids = new Set(included.map((u) => u.id));
  for (let i = 0; i < included.length; i++) {
    const u = included[i]!;
    const manager = u.enterprise?.manager?.value;
    if (manager === undefined || ids.has(manager)) continue;
    const reason = excluded.has(manager) ? `is left out this run (${excluded.get(manager)})` : 'is not in the file';
    warn({
      code: 'unknown-manager',
      message: `manager "${manager}" of user "${u.id}" ${reason}`,
      where: `${table.file}:${lines[i]}`,
    });
  }
  return { included, ids, excluded };
}
