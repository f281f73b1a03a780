import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const bin = join(repoRoot, 'bin', 'scim-sync.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI as a user would: a fresh node process, no TTY. */
export function runCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

export async function workspace(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'scim-sync-e2e-'));
}

export interface Person {
  id: string;
  first: string;
  last: string;
  title?: string;
  department?: string;
  manager?: string;
  status?: string;
}

export function person(i: number, over: Partial<Person> = {}): Person {
  return { id: `E${String(i).padStart(4, '0')}`, first: `First${i}`, last: `Last${i}`, title: 'Engineer', department: i % 2 ? 'Sales' : 'Engineering', status: 'active', ...over };
}

export function csvOf(people: Person[]): string {
  const lines = ['employee_id,first_name,last_name,email,title,department,manager_id,status'];
  for (const p of people) {
    lines.push([p.id, p.first, p.last, `${p.first.toLowerCase()}.${p.last.toLowerCase()}@example.com`, p.title ?? '', p.department ?? '', p.manager ?? '', p.status ?? 'active'].join(','));
  }
  return lines.join('\n') + '\n';
}

export interface JobOptions {
  deletes?: string;
  extra?: string;
  concurrency?: number;
}

/** The `hr` CSV connector over ./employees.csv (as written by csvOf), shared by the e2e configs. */
export const HR_CONNECTOR_YAML = `  hr:
    type: csv
    users:
      path: ./employees.csv
      id: employee_id
      status: { column: status, active: [active] }
      groups:
        - { column: department, name: "{{value}}" }
    mapping:
      userName: "{{email | lower}}"
      name.givenName: "{{first_name}}"
      name.familyName: "{{last_name}}"
      email: "{{email | lower}}"
      title: "{{title}}"
      enterprise.department: "{{department}}"
      manager: "{{manager_id}}"
`;

/** A config syncing ./employees.csv into the embedded directory as job `hr`. */
export function configYaml(opts: JobOptions = {}): string {
  return `state: ./state.db
connectors:
${HR_CONNECTOR_YAML}jobs:
  hr:
    source: hr
    target: embedded
    deletes: ${opts.deletes ?? '{ mode: deactivate, maxCount: 500, maxPercent: 10 }'}
    concurrency: ${opts.concurrency ?? 8}
${opts.extra ?? ''}`;
}

export async function setup(people: Person[], opts: JobOptions = {}): Promise<string> {
  const dir = await workspace();
  await writeFile(join(dir, 'employees.csv'), csvOf(people));
  await writeFile(join(dir, 'scim-sync.config.yaml'), configYaml(opts));
  return dir;
}
