import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigIssue } from '../core/errors.js';
import { formatPath } from './issues.js';

/**
 * `${env:NAME}` and `${file:PATH}` references inside YAML string values.
 *
 * They are resolved before schema validation so that a resolved value is validated like a literal
 * one, and so that every resolved value can be registered as a secret before anything is printed.
 * Messages name the variable or file, never the value.
 */

export interface ReferenceContext {
  configDir: string;
  env: NodeJS.ProcessEnv;
}

export interface ResolvedString {
  value: string;
  /** True when any part of the value came from a reference (and so is treated as a secret). */
  fromReference: boolean;
  /** The values the references produced, each registered as a secret by the caller. */
  secrets: string[];
}

export class ReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReferenceError';
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function fileErrorReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    default:
      return typeof code === 'string' ? code : 'cannot be read';
  }
}

/** Resolves the references in one string; throws ReferenceError with a user-facing message. */
export async function resolveString(text: string, ctx: ReferenceContext): Promise<ResolvedString> {
  if (!text.includes('${')) return { value: text, fromReference: false, secrets: [] };
  let out = '';
  const secrets: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i];
      i++;
      continue;
    }
    const close = text.indexOf('}', i + 2);
    if (close < 0) {
      throw new ReferenceError('unterminated reference "${" (write "$${" for a literal "${")');
    }
    const body = text.slice(i + 2, close);
    const colon = body.indexOf(':');
    const kind = colon < 0 ? '' : body.slice(0, colon).trim();
    const arg = colon < 0 ? body.trim() : body.slice(colon + 1).trim();
    if (kind === 'env') {
      if (!ENV_NAME.test(arg)) throw new ReferenceError(`"\${env:${arg}}" is not a valid environment variable name`);
      const value = ctx.env[arg];
      if (value === undefined) throw new ReferenceError(`environment variable ${arg} is not set (referenced as \${env:${arg}})`);
      out += value;
      secrets.push(value);
    } else if (kind === 'file') {
      if (!arg) throw new ReferenceError('"${file:}" needs a path, e.g. ${file:/run/secrets/token}');
      const abs = path.resolve(ctx.configDir, arg);
      let content: string;
      try {
        content = await readFile(abs, 'utf8');
      } catch (err) {
        throw new ReferenceError(`cannot read ${abs} (referenced as \${file:${arg}}): ${fileErrorReason(err)}`);
      }
      // Secret files are usually written with `echo`, which adds a newline that is not part of the secret.
      const value = content.replace(/[\r\n]+$/, '');
      out += value;
      secrets.push(value);
    } else {
      const hint = colon < 0 && ENV_NAME.test(arg) ? ` (did you mean "\${env:${arg}}"?)` : '';
      throw new ReferenceError(
        `unknown reference "\${${body}}": use \${env:NAME} or \${file:PATH}, or write "$\${" for a literal "\${"${hint}`,
      );
    }
    i = close + 1;
  }
  return { value: out, fromReference: secrets.length > 0, secrets };
}

export interface ResolveTreeResult {
  value: unknown;
  issues: ConfigIssue[];
  /** Paths (formatted) whose reference failed; schema issues at these paths are redundant. */
  failedPaths: Set<string>;
  /** Paths whose value came (partly) from a reference. */
  referencedPaths: Set<string>;
  secrets: string[];
}

/** Resolves references in every string of a parsed YAML tree, collecting all failures. */
export async function resolveReferences(tree: unknown, ctx: ReferenceContext): Promise<ResolveTreeResult> {
  const result: ResolveTreeResult = {
    value: undefined,
    issues: [],
    failedPaths: new Set(),
    referencedPaths: new Set(),
    secrets: [],
  };
  const walk = async (node: unknown, segs: PropertyKey[]): Promise<unknown> => {
    if (typeof node === 'string') {
      try {
        const r = await resolveString(node, ctx);
        if (r.fromReference) result.referencedPaths.add(formatPath(segs));
        result.secrets.push(...r.secrets);
        return r.value;
      } catch (err) {
        if (!(err instanceof ReferenceError)) throw err;
        const p = formatPath(segs);
        result.failedPaths.add(p);
        result.issues.push({ path: p, message: err.message });
        return node;
      }
    }
    if (Array.isArray(node)) {
      const out: unknown[] = [];
      for (let i = 0; i < node.length; i++) out.push(await walk(node[i], [...segs, i]));
      return out;
    }
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) out[k] = await walk(v, [...segs, k]);
      return out;
    }
    return node;
  };
  result.value = await walk(tree, []);
  return result;
}

/**
 * Keys whose values are secrets even when written literally. Compared after dropping case, `_`
 * and `-`, and by suffix so that `bindPassword`, `client_secret` and `accessToken` are caught while
 * `tokenUrl` is not.
 */
const SECRET_KEY_SUFFIXES = ['password', 'passwd', 'token', 'tokens', 'secret', 'secrets', 'bearer', 'apikey'];

export function isSecretKeyName(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEY_SUFFIXES.some((s) => k.endsWith(s));
}
