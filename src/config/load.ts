import { stat } from 'node:fs/promises';
import path from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import YAML from 'yaml';
import type { AnyConnectorDefinition } from '../core/connector.js';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { redactDeep, registerSecret, REDACTED } from '../core/secrets.js';
import { validateGroupMapping } from '../mapping/group-mapping.js';
import { validateUserMapping, type MappingValue } from '../mapping/user-mapping.js';
import { FilterSyntaxError, parseFilter } from '../scim/filter.js';
import { describeKind, formatPath, joinPath, parseWith, sortByDocumentOrder } from './issues.js';
import { isSecretKeyName, resolveReferences } from './references.js';
import { historySchema, jobSchema, loggingSchema, metricsSchema, NAME_PATTERN, NAME_RULE, notifySchema, topLevelSchema, type JobSchemaOutput } from './schema.js';
import { didYouMean } from './suggest.js';
import type { ConnectorConfig, JobConfig, LoadedConfig, OperationsConfig, ServerConfig } from './types.js';

export const MODULE_NAME = 'scim-sync';

/** Where cosmiconfig looks, in order, in the working directory and its parents up to the project root. */
export const SEARCH_PLACES: readonly string[] = [
  'scim-sync.config.yaml',
  'scim-sync.config.yml',
  '.scim-syncrc.yaml',
  '.scim-syncrc.yml',
  '.scim-syncrc',
  '.config/scim-syncrc.yaml',
  'package.json',
];

/** The connector every config has unless it declares its own: the directory in the state file. */
export const IMPLICIT_CONNECTOR = 'embedded';
const DEFAULT_STATE = './scim-sync.db';

export interface LoadConfigOptions {
  /** `--config`: relative to cwd. When absent the config is searched for. */
  configPath?: string;
  cwd: string;
  /** `--state`: overrides the config's `state`, relative to cwd. */
  statePath?: string;
  env?: NodeJS.ProcessEnv;
  /** Connector types; defaults to the static registry in connectors/index.ts. */
  registry?: ReadonlyMap<string, AnyConnectorDefinition>;
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** YAML with positions in syntax errors; cosmiconfig's own loader reports them less precisely. */
function loadYaml(filepath: string, content: string): unknown {
  const doc = YAML.parseDocument(content, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const where = pos ? `${filepath}:${pos.line}:${pos.col}` : filepath;
        // prettyErrors appends " at line L, column C:" and a code excerpt; the position is in `where`.
        const reason = e.message.replace(/ at line \d+, column \d+[\s\S]*$/, '').split('\n')[0];
        return { path: '', message: `${where}: ${reason}` };
      }),
    );
  }
  return doc.toJS();
}

async function defaultRegistry(): Promise<ReadonlyMap<string, AnyConnectorDefinition>> {
  // Imported lazily so that merely importing the config module does not load every connector.
  const mod = await import('../../connectors/index.js');
  return mod.connectorRegistry;
}

async function findConfig(opts: LoadConfigOptions): Promise<{ file: string; raw: unknown }> {
  const explorer = cosmiconfig(MODULE_NAME, {
    searchPlaces: [...SEARCH_PLACES],
    loaders: { '.yaml': loadYaml, '.yml': loadYaml, noExt: loadYaml },
    // Walk up from cwd to the nearest package.json, like other project-scoped tools.
    searchStrategy: 'project',
    // An empty scim-sync.config.yaml is still the user's config (one with no jobs yet).
    ignoreEmptySearchPlaces: false,
    cache: false,
  });
  let result: Awaited<ReturnType<typeof explorer.search>>;
  let explicit: string | undefined;
  try {
    if (opts.configPath !== undefined) {
      explicit = path.resolve(opts.cwd, opts.configPath);
      const st = await stat(explicit).catch(() => undefined);
      if (!st) throw new ConfigError([{ path: '', message: `config file ${explicit} not found (given with --config)` }]);
      if (!st.isFile()) throw new ConfigError([{ path: '', message: `${explicit} is not a file (given with --config)` }]);
      result = await explorer.load(explicit);
    } else {
      result = await explorer.search(opts.cwd);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // JSON errors from package.json, unreadable files, unsupported extensions.
    const file = (err as { filepath?: unknown }).filepath;
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError([{ path: '', message }], typeof file === 'string' ? file : explicit);
  }
  if (!result) {
    throw new ConfigError([
      {
        path: '',
        message:
          `no configuration found in ${opts.cwd} or its parent directories (up to the nearest package.json); ` +
          `looked for ${SEARCH_PLACES.map((p) => (p === 'package.json' ? 'a "scim-sync" key in package.json' : p)).join(', ')}. ` +
          'Create scim-sync.config.yaml or pass --config <file>.',
      },
    ]);
  }
  return { file: result.filepath, raw: result.isEmpty ? {} : result.config };
}

/** Visits every string in a tree with its path segments. */
function visitStrings(node: unknown, segs: PropertyKey[], fn: (segs: PropertyKey[], value: string) => void): void {
  if (typeof node === 'string') fn(segs, node);
  else if (Array.isArray(node)) node.forEach((v, i) => visitStrings(v, [...segs, i], fn));
  else if (isPlain(node)) for (const [k, v] of Object.entries(node)) visitStrings(v, [...segs, k], fn);
}

export async function loadConfig(opts: LoadConfigOptions): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const registry = opts.registry ?? (await defaultRegistry());
  const { file, raw } = await findConfig(opts);
  const configDir = path.dirname(file);

  if (!isPlain(raw)) {
    throw new ConfigError(
      [{ path: '', message: `expected a mapping with the keys state, connectors, jobs, server, history, notify, metrics and logging, got ${describeKind(raw)}` }],
      file,
    );
  }

  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];

  // 1. References, first: resolved values are validated like literal ones.
  const resolved = await resolveReferences(raw, { configDir, env });
  issues.push(...resolved.issues);
  for (const s of resolved.secrets) registerSecret(s);
  const tree = resolved.value as Plain;

  // 2. Top-level shape. When it fails, keep going with whatever sections are usable so that
  //    every problem is reported in one go.
  const top = parseWith(topLevelSchema, tree, '');
  if (!top.ok) issues.push(...top.issues);
  const stateValue = typeof tree.state === 'string' && tree.state !== '' ? tree.state : DEFAULT_STATE;
  const connectorsRaw = isPlain(tree.connectors) ? tree.connectors : {};
  const jobsRaw = isPlain(tree.jobs) ? tree.jobs : {};

  // 3. Connectors, each by its own type's schema.
  const connectors: Record<string, ConnectorConfig> = {};
  const defs = new Map<string, AnyConnectorDefinition>();
  const knownTypes = [...registry.keys()];
  for (const [name, block] of Object.entries(connectorsRaw)) {
    const p = joinPath('connectors', name);
    if (!NAME_PATTERN.test(name)) issues.push({ path: p, message: `connector name ${NAME_RULE}` });
    if (!isPlain(block)) {
      issues.push({ path: p, message: `expected a mapping with a "type" key, got ${describeKind(block)}` });
      continue;
    }
    const { type, ...rest } = block;
    if (type === undefined) {
      issues.push({ path: `${p}.type`, message: `is required (one of: ${knownTypes.join(', ')})` });
      continue;
    }
    if (typeof type !== 'string') {
      issues.push({ path: `${p}.type`, message: `expected a connector type (one of: ${knownTypes.join(', ')}), got ${describeKind(type)}` });
      continue;
    }
    const def = registry.get(type);
    if (!def) {
      issues.push({
        path: `${p}.type`,
        message: `unknown connector type "${type}"${didYouMean(type, knownTypes)}; known types: ${knownTypes.join(', ')}`,
      });
      continue;
    }
    defs.set(name, def);
    const parsed = parseWith(def.configSchema, rest, p);
    if (parsed.ok) connectors[name] = { name, type, config: parsed.data };
    else issues.push(...parsed.issues);
  }
  if (!Object.prototype.hasOwnProperty.call(connectorsRaw, IMPLICIT_CONNECTOR)) {
    const def = registry.get(IMPLICIT_CONNECTOR);
    if (def) {
      const parsed = def.configSchema.safeParse({});
      defs.set(IMPLICIT_CONNECTOR, def);
      connectors[IMPLICIT_CONNECTOR] = { name: IMPLICIT_CONNECTOR, type: def.type, config: parsed.success ? parsed.data : {} };
    }
  }
  const connectorNames = [...defs.keys()];

  const secretPaths = new Set<string>(resolved.referencedPaths);
  // 4. Secrets written under secret-looking keys (or keys a connector declares secret).
  visitStrings(tree, [], (segs, value) => {
    if (value === '') return;
    const keys = segs.filter((s): s is string => typeof s === 'string');
    let secret = keys.some(isSecretKeyName);
    if (!secret && keys[0] === 'connectors' && keys[1] !== undefined) {
      const declared = defs.get(keys[1])?.secretKeys ?? [];
      secret = keys.slice(2).some((k) => declared.includes(k));
    }
    if (!secret) return;
    registerSecret(value);
    const p = formatPath(segs);
    secretPaths.add(p);
    if (!resolved.referencedPaths.has(p) && !resolved.failedPaths.has(p)) {
      warnings.push(`${p}: secret written literally in the config file; use \${env:NAME} or \${file:PATH} instead`);
    }
  });

  // 5. Jobs.
  // When the connectors section itself is broken, every job reference would look unknown: say it once.
  const connectorsUsable = tree.connectors === undefined || tree.connectors === null || isPlain(tree.connectors);
  const checkRef = (name: string, p: string, role: 'source' | 'target', defaulted: boolean): AnyConnectorDefinition | undefined => {
    const def = defs.get(name);
    if (!def) {
      if (!connectorsUsable) return undefined;
      const known = connectorNames.length ? `; defined connectors: ${connectorNames.join(', ')}` : '; no connectors are defined';
      issues.push({
        path: p,
        message: defaulted
          ? `no target given and there is no "${IMPLICIT_CONNECTOR}" connector; set target to one of the connectors`
          : `unknown connector "${name}"${didYouMean(name, connectorNames)}${known}`,
      });
      return undefined;
    }
    if (role === 'source' && !def.capabilities.read) {
      issues.push({ path: p, message: `connector "${name}" (type ${def.type}) cannot be read, so it cannot be a source` });
    }
    if (role === 'target' && !def.capabilities.write) {
      issues.push({ path: p, message: `connector "${name}" (type ${def.type}) cannot be written to, so it cannot be a target` });
    }
    return def;
  };

  const jobs: Record<string, JobConfig> = {};
  for (const [name, rawJob] of Object.entries(jobsRaw)) {
    const p = joinPath('jobs', name);
    if (!NAME_PATTERN.test(name)) issues.push({ path: p, message: `job name ${NAME_RULE}` });
    if (!isPlain(rawJob)) {
      issues.push({ path: p, message: `expected a mapping with at least "source", got ${describeKind(rawJob)}` });
      continue;
    }
    const parsed = parseWith(jobSchema, rawJob, p);
    if (!parsed.ok) issues.push(...parsed.issues);

    // Cross-checks run on the raw values too, so a job with a typo elsewhere still gets them.
    const source = typeof rawJob.source === 'string' && rawJob.source !== '' ? rawJob.source : undefined;
    const target = rawJob.target === undefined ? IMPLICIT_CONNECTOR : typeof rawJob.target === 'string' && rawJob.target !== '' ? rawJob.target : undefined;
    if (source !== undefined) checkRef(source, `${p}.source`, 'source', false);
    const targetDef = target !== undefined ? checkRef(target, `${p}.target`, 'target', rawJob.target === undefined) : undefined;
    if (source !== undefined && source === target) {
      issues.push({ path: `${p}.target`, message: `must be a different connector than the source ("${source}")` });
    }
    if (parsed.ok && targetDef?.capabilities.write) {
      const mode = parsed.data.deletes.mode;
      if (mode === 'deactivate' && !targetDef.capabilities.deactivate) {
        issues.push({
          path: `${p}.deletes.mode`,
          message: `connector "${target}" (type ${targetDef.type}) cannot deactivate users; set deletes.mode to "delete" or "never"`,
        });
      } else if (mode === 'delete' && !targetDef.capabilities.delete) {
        issues.push({
          path: `${p}.deletes.mode`,
          message: `connector "${target}" (type ${targetDef.type}) cannot delete users; set deletes.mode to "deactivate" or "never"`,
        });
      }
    }
    const scope = rawJob.scope;
    if (isPlain(scope)) {
      for (const kind of ['users', 'groups'] as const) {
        const text = scope[kind];
        if (typeof text !== 'string' || text === '') continue;
        try {
          parseFilter(text);
        } catch (err) {
          if (!(err instanceof FilterSyntaxError)) throw err;
          issues.push({ path: `${p}.scope.${kind}`, message: `invalid SCIM filter: ${err.message}` });
        }
      }
    }
    const mapping = rawJob.mapping;
    if (isPlain(mapping)) {
      if (mapping.users !== undefined) issues.push(...validateUserMapping(mapping.users, `${p}.mapping.users`));
      if (isPlain(mapping.groups) && typeof mapping.groups.displayName === 'string') {
        issues.push(...validateGroupMapping({ displayName: mapping.groups.displayName }, `${p}.mapping.groups`));
      }
    }
    if (parsed.ok) jobs[name] = toJobConfig(name, parsed.data);
  }

  // 6. Server: shallow for now; its directory must at least be a connector.
  const server = top.ok ? (top.data.server as ServerConfig | undefined) : isPlain(tree.server) ? (tree.server as unknown as ServerConfig) : undefined;
  if (server && typeof server.directory === 'string' && server.directory !== '' && !defs.has(server.directory)) {
    issues.push({
      path: 'server.directory',
      message: `unknown connector "${server.directory}"${didYouMean(server.directory, connectorNames)}`,
    });
  }

  // A failed reference already explains the value; a second "expected a number" would only confuse.
  const refIssues = new Set(resolved.issues);
  const finalIssues = sortByDocumentOrder(
    dedupe(issues.filter((i) => refIssues.has(i) || !resolved.failedPaths.has(i.path))),
    tree,
  );
  if (finalIssues.length > 0) throw new ConfigError(finalIssues, file);

  const statePath = opts.statePath !== undefined ? path.resolve(opts.cwd, opts.statePath) : path.resolve(configDir, stateValue);
  const operations: OperationsConfig = top.ok
    ? { history: top.data.history, notify: top.data.notify, metrics: top.data.metrics, logging: top.data.logging }
    : // Unreachable in practice: a failed top level has issues, and issues throw above.
      { history: historySchema.parse(undefined), notify: notifySchema.parse(undefined), metrics: metricsSchema.parse(undefined), logging: loggingSchema.parse(undefined) };
  const loaded: LoadedConfig = { file, configDir, statePath, connectors, jobs, operations, warnings };
  if (server) loaded.server = server;
  secretPathsOf.set(loaded, secretPaths);
  return loaded;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function toJobConfig(name: string, d: JobSchemaOutput): JobConfig {
  const job: JobConfig = {
    name,
    source: d.source,
    target: d.target,
    scope: { ...d.scope },
    match: { users: [...d.match.users], groups: [...d.match.groups] },
    // Checked by validateUserMapping before this point; the schema only knows it is a record.
    mapping: { users: d.mapping.users as Record<string, MappingValue>, groups: { ...d.mapping.groups } },
    deletes: { ...d.deletes },
    errorBudget: d.errorBudget,
    maxConsecutiveFailures: d.maxConsecutiveFailures,
    onMissing: d.onMissing,
    delta: { ...d.delta },
    overlap: d.overlap,
    overlapTimeout: d.overlapTimeout,
  };
  if (d.concurrency !== undefined) job.concurrency = d.concurrency;
  if (d.schedule !== undefined) job.schedule = d.schedule.trim();
  if (d.timezone !== undefined) job.timezone = d.timezone;
  if (d.jitter !== undefined) job.jitter = d.jitter;
  return job;
}

/**
 * YAML paths of the values loadConfig treated as secrets, including ones too short for the
 * text-matching registry. Kept beside the result rather than in it so LoadedConfig stays plain data.
 */
const secretPathsOf = new WeakMap<LoadedConfig, ReadonlySet<string>>();

function redactSecrets(node: unknown, segs: PropertyKey[], underSecret: boolean, paths: ReadonlySet<string>): unknown {
  if (typeof node === 'string') return node !== '' && (underSecret || paths.has(formatPath(segs))) ? REDACTED : node;
  if (Array.isArray(node)) return node.map((v, i) => redactSecrets(v, [...segs, i], underSecret, paths));
  if (isPlain(node)) {
    const out: Plain = {};
    for (const [k, v] of Object.entries(node)) out[k] = redactSecrets(v, [...segs, k], underSecret || isSecretKeyName(k), paths);
    return out;
  }
  return node;
}

/**
 * The loaded config as `validate` prints it: plain JSON-able data with every secret replaced by
 * [REDACTED], both values registered as secrets and anything under a secret-looking key.
 */
export function redactedConfigView(loaded: LoadedConfig): Record<string, unknown> {
  // Same key layout as the YAML (a connector block minus `type` is its config), so paths match.
  const tree: Plain = {
    connectors: Object.fromEntries(
      Object.values(loaded.connectors).map((c) => [c.name, { type: c.type, ...(isPlain(c.config) ? c.config : { config: c.config }) }]),
    ),
    jobs: loaded.jobs,
  };
  if (loaded.server) tree.server = loaded.server;
  const redacted = redactSecrets(tree, [], false, secretPathsOf.get(loaded) ?? new Set()) as Plain;
  const view: Plain = { file: loaded.file, state: loaded.statePath, ...redacted };
  return redactDeep(JSON.parse(JSON.stringify(view)) as Plain);
}
