import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances', 'Edsger', 'Zoë', 'José', 'Ngozi', 'Wei', 'Priya'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen', 'Dijkstra', 'Ångström', 'Núñez', 'Okafor', 'Zhang', 'Patel'];
const TITLES = ['Engineer', 'Senior Engineer', 'Analyst', 'Manager', 'Director, Operations', 'Specialist', 'Coordinator'];
const LOCATIONS = ['Berlin', 'Lisbon', 'Toronto', 'Singapore', 'Austin'];

/** Deterministic HR export: `users` rows across `departments` departments, managers per department. */
export async function generateHrCsv(path: string, users: number, departments: number, titleSuffixFor?: (i: number) => string): Promise<void> {
  const out = createWriteStream(path);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('employee_id,first_name,last_name,email,title,department,location,cost_center,manager_id,status,hire_date,phone\n');
  for (let i = 0; i < users; i++) {
    const id = `E${String(i).padStart(7, '0')}`;
    const dept = i % departments;
    const first = FIRST[i % FIRST.length]!;
    const last = LAST[Math.floor(i / FIRST.length) % LAST.length]!;
    // The first employee of each department manages it; department heads report to E0000000.
    const manager = i === 0 ? '' : i < departments ? 'E0000000' : `E${String(dept).padStart(7, '0')}`;
    const title = TITLES[i % TITLES.length]! + (titleSuffixFor?.(i) ?? '');
    const status = i % 97 === 0 && i > 0 ? 'terminated' : 'active';
    await write(
      `${id},${first},${last},user${i}@example.com,"${title}",Dept ${String(dept).padStart(4, '0')},${LOCATIONS[i % LOCATIONS.length]},CC${dept % 300},${manager},${status},2020-01-${String((i % 28) + 1).padStart(2, '0')},+1 555 ${String(i).padStart(7, '0')}\n`,
    );
  }
  out.end();
  await once(out, 'finish');
}

/** The `hr` CSV connector over ./employees.csv as generateHrCsv writes it, for bench configs. */
export const BENCH_HR_CONNECTOR_YAML = `  hr:
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
      phone: "{{phone}}"
      enterprise.department: "{{department}}"
      enterprise.costCenter: "{{cost_center}}"
      manager: "{{manager_id}}"
`;
