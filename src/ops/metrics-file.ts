import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Write the metrics text for node_exporter's textfile collector. Written to a temp file in the
 * same directory and renamed over the target, because the collector may read at any moment and
 * must never see half a file (the node_exporter docs ask for exactly this).
 */
export async function writeMetricsFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}
