import { Command, CommanderError, Option } from 'commander';
import { ConfigError, errorMessage, InputError, ScimSyncError } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import { TOOL_VERSION } from '../engine/tool-version.js';
import { EXIT, exitCodeFor, type ExitCode } from './exit-codes.js';
import { createOutput, type GlobalOptions, type Output, type Streams } from './output.js';
import { requestShutdown, resetShutdown } from './shutdown.js';


// Commands are imported when they run: `--help`, `--version` and a typo'd flag should not pay
// for loading zod, SQLite and every connector.

/**
 * The CLI entry point. Returns the exit code instead of exiting, so tests can call it and so this
 * file's single catch is the one place where errors become exit codes and messages.
 */
export async function main(
  argv: string[],
  streams: Streams = { stdout: process.stdout, stderr: process.stderr, env: process.env },
  opts: { handleSignals?: boolean } = { handleSignals: streams.stdout === process.stdout },
): Promise<number> {
  resetShutdown();
  const onSignal = (signal: NodeJS.Signals) => {
    if (requestShutdown(signal)) {
      streams.stderr.write(`received ${signal}: finishing the changes in flight, then stopping (send it again to stop at once)\n`);
      return;
    }
    streams.stderr.write(`received ${signal} again: stopping now\n`);
    // The second signal means "now": whatever is in flight is abandoned, and the next run
    // resumes from state (written only after each accepted write) and marks this run interrupted.
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  // A promise rejected with nobody listening is a bug in scim-sync; Node would print a stack trace
  // and exit. Say it like every other internal error instead (message only, redacted).
  const onUnhandled = (reason: unknown) => {
    streams.stderr.write(`internal error: ${redact(errorMessage(reason))}\n(this is a bug in scim-sync; please report it)\n`);
    process.exit(EXIT.error);
  };
  if (opts.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('unhandledRejection', onUnhandled);
  }
  try {
    return await mainInner(argv, streams);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('unhandledRejection', onUnhandled);
  }
}

async function mainInner(argv: string[], streams: Streams): Promise<number> {
  let code: ExitCode = EXIT.ok;
  let output: Output | undefined;
  const program = new Command();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const out = (): Output => (output ??= createOutput(globals(), streams));
  const action = <A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>) => async (...args: A) => {
    code = await fn(...args);
  };

  program
    .name('scim-sync')
    .description('Keep users and groups in step between identity systems (CSV, SCIM 2.0, LDAP/AD, embedded directory).')
    .version(TOOL_VERSION ?? 'unknown')
    .option('-c, --config <path>', 'configuration file (default: found by searching scim-sync.config.yaml, .scim-syncrc.yaml, …)')
    .option('--state <path>', 'SQLite state file (overrides `state` in the configuration)')
    .option('--json', 'machine-readable JSON output on stdout')
    .option('--no-color', 'disable colours (also honoured: NO_COLOR)')
    .option('-v, --verbose', 'debug logging on stderr')
    .option('-q, --quiet', 'print only errors')
    .addOption(new Option('--log-level <level>', 'least severe log lines shown: debug, info, warn or error (default: logging.level, else info; --verbose is debug, --quiet error)').choices(['debug', 'info', 'warn', 'error']))
    .addOption(new Option('--log-format <format>', 'log lines on stderr: text, json (one object per line) or auto (text on a terminal, else json); default: logging.format in the config, else text').choices(['text', 'json', 'auto']))
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
    });

  program
    .command('run')
    .description('plan and apply jobs now (all jobs when none is named)')
    .argument('[jobs...]', 'job names')
    .option('--dry-run', 'show the plan, change nothing (same as `plan`)')
    .option('--allow-deletes', 'apply removals even when they exceed deletes.maxCount / maxPercent')
    .option('--detailed-exitcode', 'exit 2 when changes were applied, 0 when none were needed')
    .option('--full', 'compare in full even when source and target are unchanged')
    .option('--only <key>', 'apply only the changes for one user or group (source id, userName, email, displayName or target id); needs one job')
    .option('--metrics-file <path>', 'after the run, write every job\'s metrics there (Prometheus text, for node_exporter\'s textfile collector)')
    .action(action(async (jobs: string[], flags: Record<string, string | boolean>) => (await import('./commands/run.js')).runCommand(jobs, flags, globals(), out())));

  program
    .command('plan')
    .description('show what a run would change, without changing anything')
    .argument('[jobs...]', 'job names')
    .option('-o, --out <file>', 'save the plan (JSON) to apply later with `scim-sync apply`')
    .option('--allow-deletes', 'plan removals even when they exceed the thresholds')
    .option('--detailed-exitcode', 'exit 2 when the plan has changes, 0 when it has none')
    .option('--full', 'compare in full even when source and target are unchanged')
    .action(action(async (jobs: string[], flags: Record<string, string | boolean>) => (await import('./commands/run.js')).planCommand(jobs, flags, globals(), out())));

  program
    .command('apply')
    .description('apply a plan saved with `plan --out`; refuses a plan made before state changed')
    .argument('<plan-file>', 'the saved plan')
    .action(action(async (file: string) => (await import('./commands/run.js')).applyCommand(file, globals(), out())));

  program
    .command('explain')
    .description('show why one user or group is in or out of scope, what it matches on the target, and what a run would change (writes nothing)')
    .argument('<job>', 'job name')
    .argument('<key>', 'source id, userName, email, group displayName or target id')
    .action(action(async (job: string, key: string) => (await import('./commands/explain.js')).explainCommand(job, key, globals(), out())));

  program
    .command('schedule')
    .description('run the jobs that have a `schedule:` on their schedules until SIGTERM/SIGINT')
    .action(action(async () => (await import('./commands/schedule.js')).scheduleCommand(globals(), out())));

  program
    .command('validate')
    .description('check the configuration and connect to every connector')
    .option('--no-connect', 'check the configuration only')
    .action(action(async (flags: { connect: boolean }) => (await import('./commands/validate.js')).validateCommand(flags, globals(), out())));

  program
    .command('status')
    .description("show each job's last run and whether one is running")
    .action(action(async () => (await import('./commands/history.js')).statusCommand(globals(), out())));

  program
    .command('history')
    .description('list past runs with counts, duration and errors')
    .argument('[job]', 'only this job')
    .addOption(new Option('-n, --limit <n>', 'how many runs').default(20).argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new CommanderError(1, 'scim-sync.limit', `--limit: expected a positive integer, got "${v}"`);
      return n;
    }))
    .action(action(async (job: string | undefined, flags: { limit: number }) => (await import('./commands/history.js')).historyCommand(job, flags, globals(), out())));

  program
    .command('serve')
    .description('serve a directory over SCIM 2.0 (the embedded directory, read-write, unless server.directory names another)')
    .option('--listen <host:port>', 'address to listen on (overrides server.listen; port 0 picks a free one)')
    .option('--schedule', 'also run the jobs that have a `schedule:` in this process (like `scim-sync schedule`)')
    .action(action(async (flags: { listen?: string; schedule?: boolean }) => (await import('./commands/serve.js')).serveCommand(flags, globals(), out())));

  const started = Date.now();
  try {
    await program.parseAsync(argv);
    // Operators (and the benchmark) read run cost from this line with --verbose.
    output?.logger.debug('finished', { ms: Date.now() - started, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), exitCode: code });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; commander already printed usage problems.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      if (err.code === 'scim-sync.limit') streams.stderr.write(`error: ${err.message}\n`);
      return EXIT.error;
    }
    const o = out();
    const json = globals().json;
    if (json) {
      o.err(JSON.stringify(errorJson(err)));
    } else if (err instanceof ScimSyncError) {
      o.err(`error: ${err.message}`);
    } else {
      // Not one of ours: a bug. Say so plainly, with the stack only when asked for.
      o.err(`internal error: ${errorMessage(err)}`);
      if (globals().verbose && err instanceof Error && err.stack) o.err(redact(err.stack));
      else o.err('(this is a bug in scim-sync; rerun with --verbose for details and report it)');
    }
    return exitCodeFor(err);
  }
}

function errorJson(err: unknown): Record<string, unknown> {
  if (err instanceof ConfigError) return { error: 'config', file: err.file ?? null, issues: err.issues };
  if (err instanceof InputError) return { error: 'input', file: err.file, line: err.line ?? null, column: err.column ?? null, message: err.reason };
  if (err instanceof ScimSyncError) return { error: err.code, message: err.message };
  return { error: 'internal', message: errorMessage(err) };
}
