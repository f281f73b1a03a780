import { createReadStream } from 'node:fs';
import Papa from 'papaparse';

/**
 * The floor: read the CSV and parse it into rows with the same parser the connector uses
 * (papaparse, 1 MiB chunks), doing nothing else. Median of three runs in this process.
 */
export async function measureParseFloor(path: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = process.hrtime.bigint();
    let rows = 0;
    const decoder = new TextDecoder('utf-8');
    let carry = '';
    for await (const buf of createReadStream(path, { highWaterMark: 1 << 20 })) {
      const text = carry + decoder.decode(buf as Buffer, { stream: true });
      // Parse whole lines only; the partial last line waits for the next chunk.
      const cut = text.lastIndexOf('\n');
      carry = text.slice(cut + 1);
      rows += Papa.parse<string[]>(text.slice(0, cut + 1), { skipEmptyLines: true }).data.length;
    }
    if (carry) rows += Papa.parse<string[]>(carry, { skipEmptyLines: true }).data.length;
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
    if (rows < 2) throw new Error(`floor parsed only ${rows} rows from ${path}`);
  }
  times.sort((a, b) => a - b);
  return times[1]!;
}
