import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import Papa from 'papaparse';
import { InputError } from '../../src/core/errors.js';
import type { CsvFileConfig } from './config.js';

/** One data row's cells by column name. */
export type CsvRow = Record<string, string>;

/**
 * Rows and the physical line each starts on, as parallel arrays: a wrapper object per row would
 * be 100k more long-lived objects for the garbage collector to copy in a big export.
 */
export interface CsvTable {
  /** The path as written in the config, for messages. */
  file: string;
  columns: string[];
  rows: CsvRow[];
  /** `lines[i]` is the line `rows[i]` starts on. */
  lines: number[];
}

/** Big reads keep papaparse's per-chunk overhead (and its re-parse of a split row) negligible. */
const READ_CHUNK = 1 << 20;

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

function describeOpenError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return err instanceof Error ? err.message : String(err);
}

/**
 * Decodes the file chunk by chunk. Invalid UTF-8 becomes U+FFFD here; `sawReplacement` tells the
 * row loop to look for it, so the error can name the exact line and column instead of a byte
 * offset (a fatal decoder would only say "somewhere in this megabyte").
 */
async function* decode(
  chunks: AsyncIterable<Buffer>,
  display: string,
  encoding: CsvFileConfig['encoding'],
  state: { sawReplacement: boolean },
): AsyncGenerator<string> {
  // WHATWG "latin1" is windows-1252, which is what spreadsheet exports labelled Latin-1 really are.
  // The UTF-8 decoder drops a leading byte order mark by default.
  const decoder = new TextDecoder(encoding === 'latin1' ? 'latin1' : 'utf-8');
  let first = true;
  for await (const buf of chunks) {
    if (first) {
      first = false;
      if (encoding === 'latin1' && UTF8_BOM.every((b, i) => buf[i] === b)) {
        throw new InputError(display, 1, 1, 'file starts with a UTF-8 byte order mark but encoding is latin1; set encoding: utf8');
      }
    }
    const text = decoder.decode(buf, { stream: true });
    if (!state.sawReplacement && text.includes('\uFFFD')) state.sawReplacement = true;
    if (text) yield text;
  }
  const tail = decoder.decode();
  if (tail.includes('\uFFFD')) state.sawReplacement = true;
  if (tail) yield tail;
}

function countOf(text: string, ch: string): number {
  let n = 0;
  for (let i = text.indexOf(ch); i !== -1; i = text.indexOf(ch, i + 1)) n++;
  return n;
}

function quoteReason(code: Papa.ParseError['code'], quote: string): string {
  if (code === 'MissingQuotes') return `unclosed quote: the field opened with ${quote} here never ends`;
  if (code === 'InvalidQuotes') {
    return `malformed quoted field: a closing ${quote} must be followed by the delimiter or the end of the line (write ${quote}${quote} for a literal quote)`;
  }
  return `cannot parse row (${code})`;
}

/**
 * Stream-parse a CSV file into records. Throws `InputError` naming file, line and column for
 * anything malformed, and for a file without data rows: an empty export must never look like
 * "everyone left".
 *
 * Lines are tracked here because papaparse counts rows, not lines: a row starts on the line after
 * the previous row plus the line breaks inside that row's quoted fields.
 */
export async function readCsvTable(absPath: string, display: string, options: CsvFileConfig): Promise<CsvTable> {
  let handle: FileHandle;
  try {
    handle = await open(absPath, 'r');
    const stat = await handle.stat().catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
    if (!stat.isFile()) {
      await handle.close();
      throw Object.assign(new Error('not a regular file'), { code: stat.isDirectory() ? 'EISDIR' : 'ENOTFILE' });
    }
  } catch (err) {
    throw new InputError(display, undefined, undefined, `cannot read file: ${describeOpenError(err)} (resolved to ${absPath})`);
  }

  const fileStream = handle.createReadStream({ highWaterMark: READ_CHUNK });
  const state = { sawReplacement: false };
  const source = Readable.from(decode(fileStream, display, options.encoding, state));

  let columns: string[] | undefined = options.header ? undefined : options.columns;
  let headerSeen = !options.header;
  const rows: CsvRow[] = [];
  const lines: number[] = [];
  let line = 1;
  let breakChar = '\n';

  const checkEncoding = (fields: string[], at: number) => {
    for (let j = 0; j < fields.length; j++) {
      if (fields[j]!.includes('\uFFFD')) {
        throw new InputError(
          display,
          at,
          j + 1,
          options.encoding === 'utf8'
            ? 'invalid UTF-8 (or a U+FFFD replacement character left by a broken conversion); if the file is Latin-1 / Windows-1252, set encoding: latin1'
            : 'contains a U+FFFD replacement character left by a broken conversion',
        );
      }
    }
  };

  const takeHeader = (fields: string[]) => {
    const names = fields.map((f) => f.trim());
    const seen = new Map<string, number>();
    names.forEach((name, j) => {
      if (name === '__proto__') throw new InputError(display, 1, j + 1, 'column name "__proto__" is not allowed');
      const prev = seen.get(name);
      if (prev !== undefined && name !== '') {
        throw new InputError(display, 1, j + 1, `duplicate column name "${name}" (also column ${prev + 1})`);
      }
      seen.set(name, j);
    });
    if (options.columns) {
      if (options.columns.length !== fields.length) {
        throw new InputError(
          display,
          1,
          undefined,
          `the header has ${fields.length} columns but ${options.columns.length} column names are configured`,
        );
      }
      return options.columns;
    }
    return names;
  };

  const consume = (data: string[][], errors: Papa.ParseError[]) => {
    // Errors for a row past the end of `data` belong to the unfinished last row; papaparse reports
    // them again with the next chunk, once that row is complete.
    let errorRows: Map<number, Papa.ParseError> | undefined;
    for (const e of errors) {
      if (e.row === undefined || e.row >= data.length) continue;
      errorRows ??= new Map();
      if (!errorRows.has(e.row)) errorRows.set(e.row, e);
    }
    for (let r = 0; r < data.length; r++) {
      const fields = data[r]!;
      const at = line;
      let breaks = 0;
      for (let j = 0; j < fields.length; j++) {
        const f = fields[j]!;
        if (f.length > 0 && f.indexOf(breakChar) !== -1) breaks += countOf(f, breakChar);
      }
      line = at + 1 + breaks;

      if (state.sawReplacement) checkEncoding(fields, at);
      const error = errorRows?.get(r);
      if (error) throw new InputError(display, at, fields.length, quoteReason(error.code, options.quote));

      if (!headerSeen) {
        headerSeen = true;
        columns = takeHeader(fields);
        continue;
      }
      // Blank lines and rows of empty cells (spreadsheet leftovers) carry no data.
      let blank = true;
      for (let j = 0; j < fields.length; j++) {
        if (fields[j] !== '' && (!options.trim || fields[j]!.trim() !== '')) {
          blank = false;
          break;
        }
      }
      if (blank) continue;

      const cols = columns!;
      if (fields.length !== cols.length) {
        if (fields.length > cols.length) {
          throw new InputError(
            display,
            at,
            cols.length + 1,
            `too many fields: expected ${cols.length} (as in the header), found ${fields.length}; is a value with a delimiter missing its quotes?`,
          );
        }
        throw new InputError(
          display,
          at,
          fields.length + 1,
          `too few fields: expected ${cols.length} (as in the header), found ${fields.length}; column "${cols[fields.length]}" is missing`,
        );
      }
      const values: CsvRow = {};
      if (options.trim) for (let j = 0; j < cols.length; j++) values[cols[j]!] = fields[j]!.trim();
      else for (let j = 0; j < cols.length; j++) values[cols[j]!] = fields[j]!;
      rows.push(values);
      lines.push(at);
    }
  };

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      source.destroy();
      reject(
        err instanceof InputError
          ? err
          : new InputError(display, undefined, undefined, `read failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    };
    let firstChunk = true;
    Papa.parse<string[], NodeJS.ReadableStream>(source, {
      header: false,
      delimiter: options.delimiter,
      quoteChar: options.quote,
      escapeChar: options.quote,
      skipEmptyLines: false,
      dynamicTyping: false,
      chunk: (results, parser) => {
        if (settled) return;
        try {
          if (firstChunk) {
            firstChunk = false;
            // Old Mac exports end lines with a lone CR; quoted line breaks are then CRs too.
            if (results.meta.linebreak === '\r') breakChar = '\r';
          }
          consume(results.data, results.errors);
        } catch (err) {
          fail(err);
          parser.abort();
        }
      },
      complete: () => {
        if (settled) return;
        settled = true;
        resolve();
      },
      error: (err: Error) => fail(err),
    });
  });

  if (!columns || (!options.header && rows.length === 0)) {
    throw new InputError(display, undefined, undefined, 'file is empty; refusing to read an empty export, which would look like everyone left');
  }
  if (rows.length === 0) {
    throw new InputError(
      display,
      undefined,
      undefined,
      'no data rows (only a header); refusing to read an empty export, which would look like everyone left',
    );
  }
  return { file: display, columns, rows, lines };
}
