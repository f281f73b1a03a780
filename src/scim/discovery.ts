/**
 * `/ResourceTypes` and `/Schemas` (RFC 7644 §4), parsed leniently for `validate`: servers answer
 * with a ListResponse, a bare array, or (one resource type) a single object.
 */

export interface ResourceTypeInfo {
  name: string;
  endpoint?: string;
  schema?: string;
  extensions: { schema: string; required: boolean }[];
}

export interface SchemaInfo {
  id: string;
  name?: string;
  attributes: number;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The resources of a ListResponse, a bare array, or a lone resource. */
function items(json: unknown): Record<string, unknown>[] {
  const list = Array.isArray(json) ? json : Array.isArray(obj(json)?.Resources) ? (obj(json)!.Resources as unknown[]) : obj(json) ? [json] : [];
  return list.map(obj).filter((x): x is Record<string, unknown> => x !== undefined);
}

export function parseResourceTypes(json: unknown): ResourceTypeInfo[] {
  return items(json).flatMap((r) => {
    const name = str(r.name) ?? str(r.id);
    if (name === undefined) return [];
    const ext = Array.isArray(r.schemaExtensions) ? r.schemaExtensions : [];
    return [
      {
        name,
        endpoint: str(r.endpoint),
        schema: str(r.schema),
        extensions: ext.flatMap((e) => {
          const schema = str(obj(e)?.schema);
          return schema ? [{ schema, required: obj(e)?.required === true }] : [];
        }),
      },
    ];
  });
}

export function parseSchemas(json: unknown): SchemaInfo[] {
  return items(json).flatMap((s) => {
    const id = str(s.id);
    if (id === undefined) return [];
    return [{ id, name: str(s.name), attributes: Array.isArray(s.attributes) ? s.attributes.length : 0 }];
  });
}

export function describeResourceTypes(types: readonly ResourceTypeInfo[]): string {
  if (types.length === 0) return 'none listed';
  return types
    .map((t) => {
      const ext = t.extensions.map((e) => `${e.schema}${e.required ? ' (required)' : ''}`);
      return `${t.name} at ${t.endpoint ?? '?'}${ext.length ? ` with ${ext.join(', ')}` : ''}`;
    })
    .join('; ');
}

export function describeSchemas(schemas: readonly SchemaInfo[]): string {
  if (schemas.length === 0) return 'none listed';
  return schemas.map((s) => `${s.id} (${s.attributes} attributes)`).join(', ');
}
