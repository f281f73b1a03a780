import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import type { EngineContext } from '../engine/run-job.js';
import { openState } from '../state/open.js';
import type { GlobalOptions, Output } from './output.js';

/** Load configuration and open state: what every job-running command needs first. */
export async function openContext(opts: GlobalOptions, output: Output): Promise<EngineContext & { close(): void }> {
  const config = await loadConfig({ configPath: opts.config, cwd: process.cwd(), statePath: opts.state, env: process.env });
  output.configureLogging(config.operations.logging);
  for (const w of config.warnings) output.logger.warn(w);
  const state = openState(config.statePath);
  return { config, state, logger: output.logger, close: () => state.close() };
}

export async function loadOnly(opts: GlobalOptions): Promise<LoadedConfig> {
  return loadConfig({ configPath: opts.config, cwd: process.cwd(), statePath: opts.state, env: process.env });
}

/** The jobs a command should act on: those named, or all in config order. */
export function selectJobs(config: LoadedConfig, names: readonly string[]): string[] {
  return names.length > 0 ? [...names] : Object.keys(config.jobs);
}
