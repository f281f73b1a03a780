import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { embeddedConnector } from '../../connectors/embedded/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { readDirectory } from './directory.js';
import { configYaml, csvOf, person, runCli, setup } from './helpers.js';

const noStack = /\n\s+at [\w.<]/;

describe('bad input gets a clear error, never a stack trace', () => {
  it('config errors name every YAML path at once, with did-you-mean', async () => {
    const dir = await setup([person(1)]);
    await writeFile(
      join(dir, 'scim-sync.config.yaml'),
      configYaml({ deletes: '{ mode: deactivate, maxCount: 5, maxPercent: 150 }' }) + '    delets: { mode: never }\n',
    );
    const res = await runCli(['run'], { cwd: dir });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('jobs.hr.deletes.maxPercent');
    expect(res.stderr).toMatch(/jobs\.hr\.delets: .*did you mean "deletes"/);
    expect(res.stderr).not.toMatch(noStack);
    expect(res.stdout).toBe('');
  });

  it('a malformed CSV names file, line and column and writes nothing', async () => {
    const dir = await setup([person(1)]);
    await writeFile(
      join(dir, 'employees.csv'),
      csvOf([person(1), person(2)]) + 'E0003,"Unclosed,Last3,x@example.com,Engineer,Sales,,active\n',
    );
    const res = await runCli(['run'], { cwd: dir });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/employees\.csv:4:\d+: /);
    expect(res.stderr).not.toMatch(noStack);
    expect((await readDirectory(join(dir, 'state.db'))).users).toHaveLength(0);
  });

  it('secrets from ${env:…} and ${file:…} never appear in errors, JSON or history', async () => {
    const secret = 'hunter2-very-secret-value';
    const dir = await setup([person(1)]);
    await writeFile(join(dir, 'token.txt'), 'file-secret-token-123\n');
    // A secret used where it ends up in an error message: an unknown connector name.
    await writeFile(
      join(dir, 'scim-sync.config.yaml'),
      configYaml().replace('source: hr', 'source: "${env:HR_SECRET}"') + `server:\n  tokens: [{ value: "\${file:token.txt}" }]\n`,
    );
    for (const args of [['run'], ['--json', 'run'], ['validate'], ['--json', 'validate']]) {
      const res = await runCli(args, { cwd: dir, env: { HR_SECRET: secret } });
      expect(res.code).toBe(1);
      expect(res.stdout + res.stderr).not.toContain(secret);
      expect(res.stdout + res.stderr).not.toContain('file-secret-token-123');
      expect(res.stderr).toContain('[REDACTED]');
    }
  });

  it('a missing environment variable is a config error at its path', async () => {
    const dir = await setup([person(1)]);
    await writeFile(join(dir, 'scim-sync.config.yaml'), configYaml().replace('path: ./employees.csv', 'path: "${env:HR_CSV_PATH}"'));
    const res = await runCli(['validate'], { cwd: dir, env: {} });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/connectors\.hr\.users\.path: .*HR_CSV_PATH/);
  });

  it('validate reports each connector; a missing file fails it', async () => {
    const dir = await setup([person(1), person(2)]);
    const ok = await runCli(['validate'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok\s+connector hr \(csv\)/);
    expect(ok.stdout).toMatch(/job hr: hr → embedded/);
    await writeFile(join(dir, 'scim-sync.config.yaml'), configYaml().replace('./employees.csv', './missing.csv'));
    const bad = await runCli(['validate'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/FAIL connector hr \(csv\).*missing\.csv/);
  });

  it('an unknown job name is a usage error listing the jobs', async () => {
    const dir = await setup([person(1)]);
    const res = await runCli(['run', 'nope'], { cwd: dir });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('no job named "nope"; jobs in this configuration: hr');
  });
});

describe('ownership: only what the job created or adopted can be removed', () => {
  async function seed(statePath: string, users: { userName: string }[]): Promise<string[]> {
    const c = embeddedConnector.create({}, { name: 'embedded', configDir: '.', statePath, logger: silentLogger, warn: () => {} });
    try {
      const ids: string[] = [];
      for (const u of users) ids.push((await c.writer!.createUser({ userName: u.userName, active: true })).id);
      return ids;
    } finally {
      await c.close();
    }
  }

  it('adopts an existing account by userName, leaves unknown accounts alone even in delete mode', async () => {
    const staff = [person(1), person(2), person(3)];
    const dir = await setup(staff, { deletes: '{ mode: delete, maxCount: 100, maxPercent: 100 }' });
    const statePath = join(dir, 'state.db');
    const [adoptedId, strangerId] = await seed(statePath, [{ userName: 'first1.last1@example.com' }, { userName: 'stranger@example.com' }]);

    const first = await runCli(['run'], { cwd: dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/adopt user first1\.last1@example\.com \(matched by userName\)/);
    let now = await readDirectory(statePath);
    expect(now.users).toHaveLength(4);
    expect(now.users.find((u) => u.id === adoptedId)!.externalId).toBe('E0001');

    // Everyone leaves the export but one: the adopted account goes, the stranger stays.
    await writeFile(join(dir, 'employees.csv'), csvOf([person(3)]));
    const second = await runCli(['run'], { cwd: dir });
    expect(second.code).toBe(0);
    now = await readDirectory(statePath);
    expect(now.users.map((u) => u.id)).toContain(strangerId);
    expect(now.users.map((u) => u.id)).not.toContain(adoptedId);
    expect(now.users.map((u) => u.userName).sort()).toEqual(['first3.last3@example.com', 'stranger@example.com']);
  });
});
