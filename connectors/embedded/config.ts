import { z } from 'zod';

/**
 * The embedded directory lives in the state file, so it needs no location of its own.
 * `readOnly` exposes only the reader: useful when the directory is a job's source and must not be
 * written by mistake.
 */
export const embeddedConfigSchema = z.strictObject({
  readOnly: z.boolean().optional(),
});

export type EmbeddedConfig = z.infer<typeof embeddedConfigSchema>;
