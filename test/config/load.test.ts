import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import { loadConfig, redactedConfigView, SEARCH_PLACES } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { clearSecrets, redact } from '../../src/core/secrets.js';
import { configError, fakeRegistry, lines, tempDir, writeFiles } from './helpers.js';

const MINIMAL = `
connectors:
  hr: { type: csv, users: { path: ./e.csv, id: emp } }
jobs:
  hr-to-embedded:
    source: hr
`;

async function load(yaml: string, extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) {
  const dir = await tempDir();
  await writeFiles(dir, { 'scim-sync.config.yaml': yaml, ...extra });
  return { dir, config: await loadConfig({ cwd: dir, registry: fakeRegistry, env }) };
}

async function loadError(yaml: string, extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) {
  const dir = await tempDir();
  await writeFiles(dir, { 'scim-sync.config.yaml': yaml, ...extra });
  return configError(() => loadConfig({ cwd: dir, registry: fakeRegistry, env }));
}

beforeEach(() => clearSecrets());

describe('finding the config file', () => {
  test.each(SEARCH_PLACES.filter((p) => p !== 'package.json'))('finds %s', async (place) => {
    const dir = await tempDir();
    await writeFiles(dir, { [place]: MINIMAL, 'package.json': '{}' });
    const config = await loadConfig({ cwd: dir, registry: fakeRegistry, env: {} });
    expect(config.file).toBe(path.join(dir, place));
    expect(config.configDir).toBe(path.dirname(path.join(dir, place)));
    expect(Object.keys(config.jobs)).toEqual(['hr-to-embedded']);
  });

  test('prefers scim-sync.config.yaml over an rc file', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'scim-sync.config.yaml': MINIMAL, '.scim-syncrc': 'jobs: {}', 'package.json': '{}' });
    expect((await loadConfig({ cwd: dir, registry: fakeRegistry, env: {} })).file).toBe(path.join(dir, 'scim-sync.config.yaml'));
  });

  test('reads the "scim-sync" key of package.json', async () => {
    const dir = await tempDir();
    const pkg = {
      name: 'x',
      'scim-sync': { connectors: { hr: { type: 'csv', users: { path: 'e.csv', id: 'emp' } } }, jobs: { j: { source: 'hr' } } },
    };
    await writeFiles(dir, { 'package.json': JSON.stringify(pkg) });
    const config = await loadConfig({ cwd: dir, registry: fakeRegistry, env: {} });
    expect(config.file).toBe(path.join(dir, 'package.json'));
    expect(config.jobs.j?.target).toBe('embedded');
  });

  test('walks up from a subdirectory to the project root', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'scim-sync.config.yml': MINIMAL, 'package.json': '{}', 'sub/deeper/.keep': '' });
    const config = await loadConfig({ cwd: path.join(dir, 'sub/deeper'), registry: fakeRegistry, env: {} });
    expect(config.file).toBe(path.join(dir, 'scim-sync.config.yml'));
    expect(config.statePath).toBe(path.join(dir, 'scim-sync.db'));
  });

  test('no config found: names what was searched and suggests --config', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'package.json': '{}' });
    const err = await configError(() => loadConfig({ cwd: dir, registry: fakeRegistry, env: {} }));
    expect(err.issues).toHaveLength(1);
    const msg = err.issues[0]!.message;
    expect(msg).toContain(`no configuration found in ${dir}`);
    for (const place of ['scim-sync.config.yaml', 'scim-sync.config.yml', '.scim-syncrc.yaml', '.scim-syncrc.yml', '.scim-syncrc', '.config/scim-syncrc.yaml']) {
      expect(msg).toContain(place);
    }
    expect(msg).toContain('a "scim-sync" key in package.json');
    expect(msg).toContain('--config <file>');
  });

  test('--config is relative to cwd and may have any name', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'conf/prod.yaml': MINIMAL });
    const config = await loadConfig({ cwd: dir, configPath: 'conf/prod.yaml', registry: fakeRegistry, env: {} });
    expect(config.file).toBe(path.join(dir, 'conf/prod.yaml'));
    expect(config.configDir).toBe(path.join(dir, 'conf'));
    expect(config.statePath).toBe(path.join(dir, 'conf/scim-sync.db'));
  });

  test('--config naming a missing file', async () => {
    const dir = await tempDir();
    const err = await configError(() => loadConfig({ cwd: dir, configPath: 'nope.yaml', registry: fakeRegistry, env: {} }));
    expect(lines(err)).toEqual([`: config file ${path.join(dir, 'nope.yaml')} not found (given with --config)`]);
    expect(err.message).toContain('(root): config file');
  });

  test('--config naming a directory', async () => {
    const dir = await tempDir();
    const err = await configError(() => loadConfig({ cwd: dir, configPath: '.', registry: fakeRegistry, env: {} }));
    expect(lines(err)).toEqual([`: ${dir} is not a file (given with --config)`]);
  });

  test('YAML syntax errors name file:line:col', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'scim-sync.config.yaml');
    await writeFiles(dir, { 'scim-sync.config.yaml': 'jobs:\n  a: { source: hr\n  b: 1\n' });
    const err = await configError(() => loadConfig({ cwd: dir, registry: fakeRegistry, env: {} }));
    expect(err.issues.length).toBeGreaterThan(0);
    expect(err.issues[0]!.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
  });

  test('duplicate keys are a syntax error with a position', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'scim-sync.config.yaml');
    await writeFiles(dir, { 'scim-sync.config.yaml': 'jobs: {}\nstate: a.db\njobs: {}\n' });
    const err = await configError(() => loadConfig({ cwd: dir, registry: fakeRegistry, env: {} }));
    expect(lines(err)).toEqual([`: ${file}:3:1: Map keys must be unique`]);
  });

  test('package.json with invalid JSON', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'package.json': '{ "scim-sync": ' });
    const err = await configError(() => loadConfig({ cwd: dir, registry: fakeRegistry, env: {} }));
    expect(err.file).toBe(path.join(dir, 'package.json'));
    expect(err.issues).toHaveLength(1);
  });

  test('an empty file is an empty config', async () => {
    const { config } = await load('');
    expect(config.jobs).toEqual({});
    expect(Object.keys(config.connectors)).toEqual(['embedded']);
  });

  test('the document must be a mapping', async () => {
    const err = await loadError('- a\n- b\n');
    expect(lines(err)).toEqual([': expected a mapping with the keys state, connectors, jobs, server, history, notify, metrics and logging, got a list']);
  });
});

describe('state path', () => {
  test('defaults to scim-sync.db beside the config file', async () => {
    const { dir, config } = await load(MINIMAL);
    expect(config.statePath).toBe(path.join(dir, 'scim-sync.db'));
  });

  test('is relative to the config directory, not cwd', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'etc/scim-sync.config.yaml': `state: ../var/state.db\n${MINIMAL}` });
    const config = await loadConfig({ cwd: '/', configPath: path.join(dir, 'etc/scim-sync.config.yaml'), registry: fakeRegistry, env: {} });
    expect(config.statePath).toBe(path.join(dir, 'var/state.db'));
  });

  test('the statePath option overrides it, relative to cwd', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'etc/scim-sync.config.yaml': `state: ../var/state.db\n${MINIMAL}` });
    const config = await loadConfig({
      cwd: dir,
      configPath: 'etc/scim-sync.config.yaml',
      statePath: 'other/s.db',
      registry: fakeRegistry,
      env: {},
    });
    expect(config.statePath).toBe(path.join(dir, 'other/s.db'));
  });

  test('may come from an env reference', async () => {
    const { config } = await load(`state: "\${env:STATE}"\n`, {}, { STATE: '/var/lib/scim-sync/s.db' });
    expect(config.statePath).toBe('/var/lib/scim-sync/s.db');
  });

  test('must be text', async () => {
    const err = await loadError('state: 5\n');
    expect(lines(err)).toEqual(['state: expected text (a string), got an integer']);
  });
});

describe('connectors', () => {
  test('are parsed by their own schema, defaults applied, type kept apart', async () => {
    const { config } = await load(`
connectors:
  hr: { type: csv, users: { path: ./e.csv, id: emp } }
  app: { type: scim, baseUrl: "https://app.example.com/scim/v2" }
`);
    expect(config.connectors.hr).toEqual({ name: 'hr', type: 'csv', config: { users: { path: './e.csv', id: 'emp', delimiter: ',' } } });
    expect(config.connectors.app).toEqual({
      name: 'app',
      type: 'scim',
      config: { baseUrl: 'https://app.example.com/scim/v2', timeoutMs: 30000 },
    });
  });

  test('an implicit "embedded" connector exists unless declared', async () => {
    const { config } = await load(MINIMAL);
    expect(config.connectors.embedded).toEqual({ name: 'embedded', type: 'embedded', config: { pageSize: 100 } });
    const declared = await load('connectors:\n  embedded: { type: embedded, pageSize: 5 }\n');
    expect(declared.config.connectors.embedded).toEqual({ name: 'embedded', type: 'embedded', config: { pageSize: 5 } });
  });

  test('errors inside a connector block are prefixed with its path', async () => {
    const err = await loadError(`
connectors:
  hr: { type: csv, users: { path: "", id: emp, delimeter: ";" } }
  app: { type: scim, baseUrl: 3, timeoutMs: -1, auth: { berer: x } }
`);
    expect(lines(err)).toEqual([
      'connectors.hr.users.path: must not be empty',
      'connectors.hr.users.delimeter: unknown key (did you mean "delimiter"?)',
      'connectors.app.baseUrl: expected text (a string), got an integer',
      'connectors.app.timeoutMs: must be greater than 0',
      'connectors.app.auth.bearer: is required',
      'connectors.app.auth.berer: unknown key (did you mean "bearer"?)',
    ]);
  });

  test('unknown type suggests a registered one; missing type lists them', async () => {
    const err = await loadError(`
connectors:
  app: { type: scmi, baseUrl: x }
  other: { baseUrl: x }
  third: { type: [a] }
  fourth: just-a-string
  "-bad": { type: sink }
`);
    expect(lines(err)).toEqual([
      'connectors.app.type: unknown connector type "scmi" (did you mean "scim"?); known types: csv, scim, ldap, sink, embedded',
      'connectors.other.type: is required (one of: csv, scim, ldap, sink, embedded)',
      'connectors.third.type: expected a connector type (one of: csv, scim, ldap, sink, embedded), got a list',
      'connectors.fourth: expected a mapping with a "type" key, got text',
      'connectors.-bad: connector name must start with a letter or digit and contain only letters, digits, ".", "_" and "-"',
    ]);
  });

  test('an empty connectors or jobs key means none', async () => {
    const { config } = await load('connectors:\njobs:\n');
    expect(config.jobs).toEqual({});
    expect(Object.keys(config.connectors)).toEqual(['embedded']);
  });
});

describe('jobs', () => {
  test('defaults are applied', async () => {
    const { config } = await load(MINIMAL);
    expect(config.jobs['hr-to-embedded']).toEqual({
      name: 'hr-to-embedded',
      source: 'hr',
      target: 'embedded',
      scope: {},
      match: { users: ['externalId', 'userName'], groups: ['externalId', 'displayName'] },
      mapping: { users: {}, groups: {} },
      deletes: { mode: 'deactivate', maxCount: 500, maxPercent: 10 },
      errorBudget: 50,
      maxConsecutiveFailures: 10,
      onMissing: 'relink',
      delta: { enabled: true, fullReadEvery: 86_400_000 },
      overlap: 'skip',
      overlapTimeout: 3_600_000,
    });
  });

  test('every field given', async () => {
    const { config } = await load(`
connectors:
  hr: { type: csv, users: { path: ./e.csv, id: emp } }
  app: { type: scim, baseUrl: x }
jobs:
  hr-to-app:
    source: hr
    target: app
    schedule: "*/30 * * * *"
    timezone: Europe/Berlin
    jitter: 90s
    overlap: wait
    overlapTimeout: 20m
    scope: { users: 'status eq "active"', groups: 'displayName sw "team-"' }
    match: { users: [externalId, emails.value], groups: [displayName] }
    mapping:
      users: { userName: "{{email | lower}}", title: { expr: 'status = "contractor" ? "Contractor" : title' } }
      groups: { displayName: "hr-{{displayName}}" }
    deletes: { mode: delete, maxCount: 0, maxPercent: 2.5 }
    errorBudget: 0
    maxConsecutiveFailures: 3
    onMissing: recreate
    delta: { enabled: false, fullReadEvery: 6h }
    concurrency: 64
`);
    expect(config.jobs['hr-to-app']).toEqual({
      name: 'hr-to-app',
      source: 'hr',
      target: 'app',
      schedule: '*/30 * * * *',
      timezone: 'Europe/Berlin',
      jitter: 90_000,
      overlap: 'wait',
      overlapTimeout: 1_200_000,
      scope: { users: 'status eq "active"', groups: 'displayName sw "team-"' },
      match: { users: ['externalId', 'emails.value'], groups: ['displayName'] },
      mapping: {
        users: { userName: '{{email | lower}}', title: { expr: 'status = "contractor" ? "Contractor" : title' } },
        groups: { displayName: 'hr-{{displayName}}' },
      },
      deletes: { mode: 'delete', maxCount: 0, maxPercent: 2.5 },
      errorBudget: 0,
      maxConsecutiveFailures: 3,
      onMissing: 'recreate',
      delta: { enabled: false, fullReadEvery: 6 * 3_600_000 },
      concurrency: 64,
    });
  });

  test('unknown keys suggest the nearest known key', async () => {
    const err = await loadError(`${MINIMAL}
  hr:
    source: hr
    delets: { mode: never }
    deletes: { mod: never, maxcount: 3 }
    Concurrency: 3
`);
    expect(lines(err)).toEqual([
      'jobs.hr.delets: unknown key (did you mean "deletes"?)',
      'jobs.hr.deletes.mod: unknown key (did you mean "mode"?)',
      'jobs.hr.deletes.maxcount: unknown key (did you mean "maxCount"?)',
      'jobs.hr.Concurrency: unknown key (did you mean "concurrency"?)',
    ]);
  });

  test('unknown top-level keys suggest the nearest known key; far-off ones do not', async () => {
    const err = await loadError('stat: x.db\njobz: {}\ncompletely_different: 1\n');
    expect(lines(err)).toEqual([
      'stat: unknown key (did you mean "state"?)',
      'jobz: unknown key (did you mean "jobs"?)',
      'completely_different: unknown key',
    ]);
  });

  test('all errors are reported at once, each with its YAML path', async () => {
    const err = await loadError(`
connectors:
  hr: { type: csv, users: { path: ./e.csv, id: emp } }
  app: { type: scim, baseUrl: x }
jobs:
  hr-to-app:
    source: hrr
    target: app
    schedule: "every day"
    scope: { users: 'status eq "active" and and x pr' }
    match: { users: [externalId, username], groups: [] }
    mapping:
      users:
        userName: "{{email | lowr}}"
        titel: "{{title}}"
        active: { expr: 'status = ? "x"' }
    deletes: { mode: deactivte, maxCount: 1.5, maxPercent: 120 }
    errorBudget: "x"
    delta: { fullReadEvery: 1 week }
    concurrency: 0
  "bad name": { source: hr, target: hr }
  j3: { target: hr }
  j4: 5
`);
    expect(lines(err)).toEqual([
      'jobs.hr-to-app.source: unknown connector "hrr" (did you mean "hr"?); defined connectors: hr, app, embedded',
      'jobs.hr-to-app.schedule: expected a cron expression with 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, e.g. "*/30 * * * *"',
      'jobs.hr-to-app.scope.users: invalid SCIM filter: unexpected "and" at position 23: expected an attribute name, "(" or "not ("',
      'jobs.hr-to-app.match.users[1]: expected one of "externalId", "userName", "emails.value" (did you mean "userName"?)',
      'jobs.hr-to-app.match.groups: must list at least one entry',
      'jobs.hr-to-app.mapping.users.userName: unknown filter "lowr" (known filters: lower, upper, trim, first, ascii, default, replace) at character 11 of template "{{email | lowr}}"',
      'jobs.hr-to-app.mapping.users.titel: unknown attribute (did you mean "title"?)',
      'jobs.hr-to-app.mapping.users.active.expr: invalid expression at position 10: The symbol "?" cannot be used as a unary operator',
      'jobs.hr-to-app.deletes.mode: expected one of "deactivate", "delete", "never" (did you mean "deactivate"?)',
      'jobs.hr-to-app.deletes.maxCount: expected a whole number, 0 or more',
      'jobs.hr-to-app.deletes.maxPercent: expected a number from 0 to 100',
      'jobs.hr-to-app.errorBudget: expected a whole number, 0 or more',
      'jobs.hr-to-app.delta.fullReadEvery: expected a duration such as "30m", "24h" or "7d"',
      'jobs.hr-to-app.concurrency: expected a whole number from 1 to 64',
      'jobs.bad name: job name must start with a letter or digit and contain only letters, digits, ".", "_" and "-"',
      'jobs.bad name.target: connector "hr" (type csv) cannot be written to, so it cannot be a target',
      'jobs.bad name.target: must be a different connector than the source ("hr")',
      'jobs.j3.source: is required',
      'jobs.j3.target: connector "hr" (type csv) cannot be written to, so it cannot be a target',
      'jobs.j4: expected a mapping with at least "source", got an integer',
    ]);
    expect(err.file).toMatch(/scim-sync\.config\.yaml$/);
    expect(err.message).toContain('  jobs.hr-to-app.deletes.maxPercent: expected a number from 0 to 100\n');
  });

  test('maxPercent range and type share one message', async () => {
    for (const v of ['-1', '100.5', '"ten"', '[]']) {
      const err = await loadError(`${MINIMAL}    deletes: { maxPercent: ${v} }\n`);
      expect(lines(err)).toEqual(['jobs.hr-to-embedded.deletes.maxPercent: expected a number from 0 to 100']);
    }
  });

  test('source must be readable, target writable and able to deactivate', async () => {
    const err = await loadError(`
connectors:
  hr: { type: csv, users: { path: ./e.csv, id: emp } }
  out: { type: sink }
jobs:
  a: { source: out, target: embedded }
  b: { source: hr, target: out }
  c: { source: hr, target: out, deletes: { mode: delete } }
  d: { source: hr, target: nowhere }
`);
    expect(lines(err)).toEqual([
      'jobs.a.source: connector "out" (type sink) cannot be read, so it cannot be a source',
      'jobs.b.deletes.mode: connector "out" (type sink) cannot deactivate users; set deletes.mode to "delete" or "never"',
      'jobs.d.target: unknown connector "nowhere"; defined connectors: hr, out, embedded',
    ]);
  });

  test('without an embedded connector, a job must name its target', async () => {
    const registry = new Map([...fakeRegistry].filter(([t]) => t !== 'embedded'));
    const dir = await tempDir();
    await writeFiles(dir, { 'scim-sync.config.yaml': MINIMAL });
    const err = await configError(() => loadConfig({ cwd: dir, registry, env: {} }));
    expect(lines(err)).toEqual([
      'jobs.hr-to-embedded.target: no target given and there is no "embedded" connector; set target to one of the connectors',
    ]);
  });

  test('group scope filters and group displayName templates are checked', async () => {
    const err = await loadError(`${MINIMAL}    scope: { groups: 'displayName eq' }\n    mapping: { groups: { displayName: "{{ }}" }, users: { userName: 5 } }\n`);
    expect(lines(err)).toEqual([
      'jobs.hr-to-embedded.scope.groups: invalid SCIM filter: unexpected end of filter at position 14: expected a value (a "quoted string", number, true, false or null)',
      'jobs.hr-to-embedded.mapping.groups.displayName: missing field name at character 4 of template "{{ }}"',
      'jobs.hr-to-embedded.mapping.users.userName: expected a template string such as "{{email | lower}}" or { expr: "<JSONata expression>" }',
    ]);
  });
});

describe('server', () => {
  test('is validated, with defaults filled in; unknown keys are refused', async () => {
    const { config } = await load(`${MINIMAL}server:\n  listen: 127.0.0.1:8080\n  directory: embedded\n  tokens: [{ value: "\${env:TOK}", readOnly: true }]\n`, {}, { TOK: 'server-token-1' });
    expect(config.server).toEqual({
      listen: '127.0.0.1:8080',
      directory: 'embedded',
      basePath: '/scim/v2',
      tokens: [{ value: 'server-token-1', readOnly: true }],
      readOnly: false,
      maxBodyBytes: 1048576,
      maxResults: 1000,
      bulk: { maxOperations: 1000, maxPayloadSize: 1048576 },
    });
    expect(redact('Bearer server-token-1')).toBe('Bearer [REDACTED]');
    const err = await loadError(`${MINIMAL}server: { listen: "host", cors: true, maxResults: 0, tokens: [{ value: x, readOnly: "yes" }] }\n`);
    expect(lines(err).join('\n')).toMatch(/server\.listen: expected host:port/);
    expect(lines(err).join('\n')).toMatch(/server.*cors/);
    expect(lines(err).join('\n')).toMatch(/server\.maxResults: expected a whole number from 1 to 100000/);
  });

  test('must be object-shaped; directory must be a connector', async () => {
    const err = await loadError(`${MINIMAL}server: { listen: 8080, tokens: x, directory: embeded }\n`);
    expect(lines(err)).toEqual([
      'server.listen: expected text (a string), got an integer',
      'server.tokens: expected a list, got text',
      'server.directory: unknown connector "embeded" (did you mean "embedded"?)',
    ]);
    const err2 = await loadError('server: [1]\n');
    expect(lines(err2)).toEqual(['server: expected a mapping (key: value pairs), got a list']);
  });
});

describe('references and secrets', () => {
  test('env and file references, inside longer strings, with $${ escapes', async () => {
    const { config } = await load(
      `
connectors:
  app: { type: scim, baseUrl: "https://\${env:HOST}/scim/v2", auth: { bearer: "\${file:secrets/token}" } }
  dir: { type: ldap, url: "ldaps://dc", bindDN: "cost $\${notaref} \${env:USER}", credential: "pre-\${env:PW}-post" }
`,
      { 'secrets/token': 'file-token-value\n\n' },
      { HOST: 'app.example.com', PW: 'hunter22', USER: 'svc' },
    );
    expect(config.connectors.app?.config).toEqual({
      baseUrl: 'https://app.example.com/scim/v2',
      auth: { bearer: 'file-token-value' },
      timeoutMs: 30000,
    });
    expect(config.connectors.dir?.config).toEqual({ url: 'ldaps://dc', bindDN: 'cost ${notaref} svc', credential: 'pre-hunter22-post' });
    // Every referenced value is a secret, including the host name; literal ones are not.
    expect(redact('file-token-value hunter22 app.example.com pre-hunter22-post ldaps://dc')).toBe(
      '[REDACTED] [REDACTED] [REDACTED] [REDACTED] ldaps://dc',
    );
    expect(config.warnings).toEqual([]);
  });

  test('absolute file references and file paths relative to the config directory', async () => {
    const dir = await tempDir();
    await writeFiles(dir, {
      'etc/scim-sync.config.yaml': `connectors:\n  app: { type: scim, baseUrl: x, auth: { bearer: "\${file:tok.txt}" } }\n  b: { type: scim, baseUrl: "\${file:${dir}/abs.txt}" }\n`,
      'etc/tok.txt': 'relative-token\r\n',
      'abs.txt': 'absolute-value',
    });
    const config = await loadConfig({ cwd: dir, configPath: 'etc/scim-sync.config.yaml', registry: fakeRegistry, env: {} });
    expect(config.connectors.app?.config).toMatchObject({ auth: { bearer: 'relative-token' } });
    expect(config.connectors.b?.config).toMatchObject({ baseUrl: 'absolute-value' });
  });

  test('missing env vars and unreadable files are errors at their path, never showing values', async () => {
    const dir = await tempDir();
    await writeFiles(dir, {
      'scim-sync.config.yaml': `
state: "\${env:STATE_DIR}/s.db"
connectors:
  app: { type: scim, baseUrl: "\${env:HOST}", auth: { bearer: "\${file:missing-token}" }, timeoutMs: "\${env:TIMEOUT}" }
  d: { type: ldap, url: "\${file:.}", bindDN: "\${HOME}", credential: "\${vault:x}" }
  e: { type: ldap, url: "\${env:bad-name}", bindDN: "\${env:OK", credential: "\${file:}" }
`,
    });
    const err = await configError(() => loadConfig({ cwd: dir, registry: fakeRegistry, env: { HOST: 'h', TIMEOUT: '10' } }));
    expect(lines(err)).toEqual([
      'state: environment variable STATE_DIR is not set (referenced as ${env:STATE_DIR})',
      `connectors.app.auth.bearer: cannot read ${path.join(dir, 'missing-token')} (referenced as \${file:missing-token}): file not found`,
      // A resolved value is validated like a literal one.
      'connectors.app.timeoutMs: expected a number, got text',
      `connectors.d.url: cannot read ${dir} (referenced as \${file:.}): is a directory, not a file`,
      'connectors.d.bindDN: unknown reference "${HOME}": use ${env:NAME} or ${file:PATH}, or write "$${" for a literal "${" (did you mean "${env:HOME}"?)',
      'connectors.d.credential: unknown reference "${vault:x}": use ${env:NAME} or ${file:PATH}, or write "$${" for a literal "${"',
      'connectors.e.url: "${env:bad-name}" is not a valid environment variable name',
      'connectors.e.bindDN: unterminated reference "${" (write "$${" for a literal "${")',
      'connectors.e.credential: "${file:}" needs a path, e.g. ${file:/run/secrets/token}',
    ]);
  });

  test('literal values under secret-looking keys are registered and warned about', async () => {
    const { config } = await load(`
connectors:
  app: { type: scim, baseUrl: x, auth: { bearer: literal-bearer-1 } }
  d: { type: ldap, url: u, bindDN: cn=x, credential: literal-credential }
server:
  tokens: [{ value: literal-server-token, readOnly: false }, "\${env:T}"]
`, {}, { T: 'env-token-value' });
    expect(config.warnings).toEqual([
      'connectors.app.auth.bearer: secret written literally in the config file; use ${env:NAME} or ${file:PATH} instead',
      'connectors.d.credential: secret written literally in the config file; use ${env:NAME} or ${file:PATH} instead',
      'server.tokens[0].value: secret written literally in the config file; use ${env:NAME} or ${file:PATH} instead',
    ]);
    expect(redact('literal-bearer-1 literal-credential literal-server-token env-token-value cn=x')).toBe(
      '[REDACTED] [REDACTED] [REDACTED] [REDACTED] cn=x',
    );
  });

  test('redactedConfigView hides secrets', async () => {
    const { config } = await load(
      `
connectors:
  app: { type: scim, baseUrl: "https://app", auth: { bearer: "\${env:TOKEN}" } }
  d: { type: ldap, url: u, bindDN: "cn=x", credential: abc }
jobs:
  j: { source: app, target: embedded }
server: { listen: ":8080", tokens: [{ value: xyz }] }
`,
      {},
      { TOKEN: 'very-secret-token' },
    );
    const view = redactedConfigView(config);
    const text = JSON.stringify(view);
    expect(text).not.toContain('very-secret-token');
    expect(view).toMatchObject({
      state: config.statePath,
      connectors: {
        app: { type: 'scim', baseUrl: 'https://app', auth: { bearer: '[REDACTED]' } },
        // Too short to be matched as text, but still hidden by its declared secret key.
        d: { type: 'ldap', url: 'u', bindDN: 'cn=x', credential: '[REDACTED]' },
        embedded: { type: 'embedded', pageSize: 100 },
      },
      jobs: { j: { source: 'app', target: 'embedded' } },
      server: { listen: ':8080', tokens: [{ value: '[REDACTED]' }] },
    });
  });
});

test('the example in the design brief loads (with a fake registry)', async () => {
  const design = await readFile('/work/shared/design.md', 'utf8').catch(() => undefined);
  if (design === undefined) return;
  const yaml = /```yaml\n([\s\S]*?)```/.exec(design)?.[1];
  expect(yaml).toBeDefined();
  const err = await loadError(yaml!, {}, { SCIM_TOKEN: 'scim-token', AD_PASSWORD: 'ad-password' });
  // The fake registry has no full csv/ldap/scim schemas: only connector-block errors may remain.
  expect(err).toBeInstanceOf(ConfigError);
  expect(lines(err).filter((l) => !l.startsWith('connectors.'))).toEqual([]);
});

describe('schedules', () => {
  test('a cron field out of range, an impossible date and an unknown time zone name their YAML path', async () => {
    const err = await loadError(`
connectors:
  hr: { type: csv, users: { path: ./e.csv, id: emp } }
jobs:
  a: { source: hr, schedule: "61 * * * *" }
  b: { source: hr, schedule: "0 9 31 2 *", timezone: Mars/Olympus }
  c: { source: hr, schedule: "*/1 * * * * *", jitter: soon, overlap: queue }
`);
    expect(lines(err)).toEqual([
      'jobs.a.schedule: invalid cron expression: the minute field "61" is not valid (5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, e.g. "*/30 * * * *")',
      'jobs.b.schedule: invalid cron expression: 31 2 is an impossible day of month for the given month',
      'jobs.b.timezone: expected an IANA time zone such as "Europe/Berlin" or "UTC"',
      'jobs.c.jitter: expected a duration such as "30m", "24h" or "7d"',
      'jobs.c.overlap: expected one of "skip", "wait"',
    ]);
  });
});

describe('operations', () => {
  test('history, notify, metrics and logging have safe defaults', async () => {
    const { config } = await load(MINIMAL);
    expect(config.operations).toEqual({
      history: { keepRuns: 1000, keepFor: 90 * 86_400_000 },
      notify: {},
      metrics: {},
      logging: { format: 'text' },
    });
  });

  test('a webhook URL from the environment is a secret; its fields are checked', async () => {
    const { config } = await load(
      `${MINIMAL}
notify:
  webhook: { url: "\${env:HOOK}", on: [failure, changes], headers: { Authorization: "Bearer \${env:HOOK_TOKEN}" } }
metrics: { listen: "127.0.0.1:9464" }
logging: { format: auto }
history: { keepRuns: 50, keepFor: 30d }
`,
      {},
      { HOOK: 'https://hooks.example.com/T0/B0/xyz', HOOK_TOKEN: 'tok-123456' },
    );
    expect(config.operations.notify.webhook).toEqual({
      url: 'https://hooks.example.com/T0/B0/xyz',
      on: ['failure', 'changes'],
      headers: { Authorization: 'Bearer tok-123456' },
      timeout: 10_000,
      retries: 4,
    });
    expect(config.operations.history).toEqual({ keepRuns: 50, keepFor: 30 * 86_400_000 });
    expect(redact('posting to https://hooks.example.com/T0/B0/xyz with tok-123456')).not.toMatch(/xyz|tok-123456/);

    const err = await loadError(`${MINIMAL}
notify: { webhook: { url: "ftp://x", on: [always] } }
history: { keepRuns: 0 }
metrics: { listen: nowhere }
logging: { format: xml }
`);
    expect(lines(err)).toEqual([
      'notify.webhook.url: expected an http(s) URL',
      'notify.webhook.on[0]: expected one of "failure", "held", "changes"',
      'history.keepRuns: expected a whole number, 1 or more',
      'metrics.listen: expected host:port, e.g. 127.0.0.1:8080, [::1]:8080 or :8080 (every interface)',
      'logging.format: expected one of "text", "json", "auto"',
    ]);
  });
});
