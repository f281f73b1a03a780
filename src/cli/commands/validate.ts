import { connectorRegistry } from '../../../connectors/index.js';
import { errorMessage } from '../../core/errors.js';
import { openConnector } from '../../engine/connectors.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { loadOnly } from '../context.js';
import type { GlobalOptions, Output } from '../output.js';

export interface ValidateFlags {
  connect: boolean;
}

interface ConnectorReport {
  name: string;
  type: string;
  ok: boolean;
  details: string[];
}

/** `validate`: the config parses, and (unless --no-connect) every connector answers its check. */
export async function validateCommand(flags: ValidateFlags, global: GlobalOptions, output: Output): Promise<ExitCode> {
  const config = await loadOnly(global);
  for (const w of config.warnings) output.logger.warn(w);
  const reports: ConnectorReport[] = [];
  if (flags.connect) {
    for (const [name, entry] of Object.entries(config.connectors)) {
      const report: ConnectorReport = { name, type: entry.type, ok: false, details: [] };
      try {
        const opened = openConnector(config, name, output.logger, () => {});
        try {
          const result = await opened.connector.check();
          report.ok = result.ok;
          report.details = result.details;
        } finally {
          await opened.connector.close();
        }
      } catch (err) {
        report.details = [errorMessage(err)];
      }
      reports.push(report);
    }
  }
  const ok = reports.every((r) => r.ok);
  if (output.json) {
    output.out(JSON.stringify({ config: config.file ?? null, valid: true, jobs: Object.keys(config.jobs), connectors: reports, ok }, null, 2), true);
  } else {
    output.out(`Configuration ${config.file ?? ''} is valid: ${Object.keys(config.connectors).length} connectors, ${Object.keys(config.jobs).length} jobs.`);
    for (const job of Object.values(config.jobs)) {
      const caps = connectorRegistry.get(config.connectors[job.target]?.type ?? '')?.capabilities;
      output.out(`  job ${job.name}: ${job.source} → ${job.target}${job.schedule ? ` (schedule "${job.schedule}")` : ''}, deletes: ${job.deletes.mode}${caps && !caps.nestedGroups ? ', nested groups flattened' : ''}`);
    }
    for (const r of reports) {
      output.out(`  ${r.ok ? 'ok  ' : 'FAIL'} connector ${r.name} (${r.type})${r.details.length ? ': ' + r.details.join('; ') : ''}`, !r.ok);
    }
  }
  return ok ? EXIT.ok : EXIT.error;
}
