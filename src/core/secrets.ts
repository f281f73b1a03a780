/**
 * Every secret value resolved from configuration is registered here, and every piece of text that
 * leaves the process (logs, plans, errors, run history) passes through `redact`. A process-wide
 * registry is deliberate: a secret must be hidden no matter which layer prints it.
 */
const secrets = new Set<string>();
let pattern: RegExp | undefined;

export const REDACTED = '[REDACTED]';

export function registerSecret(value: string): void {
  // Very short values would redact ordinary words; they are still secrets but too weak to match on.
  if (value.length < 4 || secrets.has(value)) return;
  secrets.add(value);
  pattern = undefined;
}

export function clearSecrets(): void {
  secrets.clear();
  pattern = undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function redact(text: string): string {
  if (secrets.size === 0) return text;
  if (!pattern) {
    const sorted = [...secrets].sort((a, b) => b.length - a.length);
    pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
  }
  return text.replace(pattern, REDACTED);
}

/** Deep-redact a JSON-able value (strings anywhere inside it). */
export function redactDeep<T>(value: T): T {
  if (secrets.size === 0) return value;
  return JSON.parse(redact(JSON.stringify(value))) as T;
}
