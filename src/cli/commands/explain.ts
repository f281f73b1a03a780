import { canonicalJson } from '../../core/attributes.js';
import { explainObject, type Explanation } from '../../engine/explain.js';
import { planJsonValue } from '../../plan/render-json.js';
import { renderPlanText } from '../../plan/render-text.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { openContext } from '../context.js';
import type { GlobalOptions, Output } from '../output.js';

/** `explain JOB KEY`: why one object is (or is not) synced, and what a run would do to it. */
export async function explainCommand(job: string, key: string, global: GlobalOptions, output: Output): Promise<ExitCode> {
  const ctx = await openContext(global, output);
  try {
    const e = await explainObject(ctx, job, key);
    if (output.json) {
      output.out(JSON.stringify({ ...e, plan: planJsonValue(e.plan) }, null, 2), true);
    } else {
      output.out(renderExplanation(e, output.color));
    }
    return EXIT.ok;
  } finally {
    ctx.close();
  }
}

function pretty(value: unknown): string {
  return JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function renderExplanation(e: Explanation, color: boolean): string {
  const lines: string[] = [`${e.object.kind === 'user' ? 'User' : 'Group'} ${e.object.label} in job ${e.job}`, ''];
  if (e.source.found) {
    const scope = e.source.inScope
      ? e.source.scopeFilter
        ? `in scope (matches ${JSON.stringify(e.source.scopeFilter)})`
        : 'in scope (the job has no scope filter)'
      : `OUT of scope: does not match ${JSON.stringify(e.source.scopeFilter ?? '')}`;
    const { raw: _raw, ...mapped } = e.source.object as typeof e.source.object & { raw?: unknown };
    lines.push(`Source: id ${e.source.id}, ${scope}`, pretty(mapped));
    if (e.source.raw) lines.push('  as read (fields the mapping and scope can use):', pretty(e.source.raw));
  } else {
    lines.push('Source: not found');
  }
  lines.push('');
  if (e.target.found) lines.push(`Target: id ${e.target.id}`, pretty(e.target.object));
  else lines.push('Target: no object');
  lines.push('', `Match: ${e.match.detail}`);
  if (e.warnings.length) {
    lines.push('', 'Warnings:');
    for (const w of e.warnings) lines.push(`  ! ${w.code}: ${w.message}${w.where ? ` (${w.where})` : ''}`);
  }
  lines.push('', 'What a run would do (apply just this with `scim-sync run --only KEY`):');
  lines.push(renderPlanText({ ...e.plan, warnings: [] }, { color }).trimEnd());
  return `${lines.join('\n')}\n`;
}
