import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { csvConnector } from '../../../connectors/csv/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { describeReaderContract } from '../../contract/contract.js';
import { harness } from './helpers.js';

describeReaderContract('csv', async () => {
  const h = await harness();
  await copyFile(new URL('../../../examples/hr/employees.csv', import.meta.url), join(h.dir, 'employees.csv'));
  await h.write('groups.csv', 'group_id,name,parent_id\nall,Everyone,\nleads,Team Leads,all\nempty,Nobody Yet,all\n');
  await h.write('memberships.csv', 'group_id,employee_id\nleads,E1008\nleads,E1009\nleads,E1036\nall,E1001\n');
  const config = csvConnector.configSchema.parse({
    users: {
      path: 'employees.csv',
      id: 'employee_id',
      status: { column: 'status', active: ['active', 'on-leave'] },
      groups: [{ column: 'department' }, { column: 'location', name: 'Office {{value}}' }],
    },
    mapping: { userName: '{{ email | lower }}', 'name.givenName': '{{first_name}}', 'name.familyName': '{{last_name}}', manager: '{{manager_id}}' },
    groups: { path: 'groups.csv', id: 'group_id', name: 'name', parent: 'parent_id' },
    memberships: { path: 'memberships.csv', group: 'group_id', user: 'employee_id' },
  });
  const connector = csvConnector.create(config, { name: 'hr', configDir: h.dir, statePath: join(h.dir, 'state.db'), logger: silentLogger, warn() {} });
  // 6 departments + 4 offices + 3 groups from the groups file.
  return { connector, expected: { users: 50, groups: 13 }, cleanup: h.cleanup };
});
