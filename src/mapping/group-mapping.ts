import type { SourceGroup } from '../core/connector.js';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { compileTemplate, TemplateError } from '../core/template.js';
import { MappingError } from './user-mapping.js';

/**
 * `mapping.groups`: only the displayName can be re-templated per job (e.g. a prefix the target
 * needs). Fields are the raw group fields overlaid by `displayName` and `externalId`.
 */
export interface GroupMappingConfig {
  displayName?: string;
}

export interface CompiledGroupMapping {
  apply(group: SourceGroup): SourceGroup;
}

export function validateGroupMapping(mapping: GroupMappingConfig, yamlPath: string): ConfigIssue[] {
  if (mapping.displayName === undefined) return [];
  try {
    compileTemplate(mapping.displayName);
    return [];
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    return [{ path: `${yamlPath}.displayName`, message: err.message }];
  }
}

export function groupMappingFields(group: SourceGroup): Record<string, unknown> {
  const { raw, members: _members, ...canonical } = group;
  return { ...(raw ?? {}), ...canonical, raw: raw ?? {} };
}

export function compileGroupMapping(mapping: GroupMappingConfig, yamlPath: string): CompiledGroupMapping {
  const issues = validateGroupMapping(mapping, yamlPath);
  if (issues.length > 0) throw new ConfigError(issues);
  if (mapping.displayName === undefined) return { apply: (g) => g };
  const render = compileTemplate(mapping.displayName);
  const path = `${yamlPath}.displayName`;
  return {
    apply(group) {
      const displayName = render(groupMappingFields(group));
      if (displayName === undefined) throw new MappingError(group.id, path, 'displayName is empty', group.displayName, 'group');
      return { ...group, displayName };
    },
  };
}
