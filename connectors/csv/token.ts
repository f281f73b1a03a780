import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { canonicalJson } from '../../src/core/attributes.js';
import type { CsvConfig, CsvFileConfig } from './config.js';

/** Large reads: hashing is memory-bound, and fewer chunks mean fewer stream callbacks. */
const HASH_CHUNK = 1 << 20;

/**
 * The snapshot token of a CSV source: sha256 over the connector's config and the bytes of every
 * file it reads. What the connector lists is a function of exactly these (the config decides how
 * the bytes are parsed and mapped), so an equal token means an equal listing.
 *
 * A content hash rather than size + mtime: exports are often rewritten in place with the same size
 * (a changed title of equal length), and mtime has coarse resolution on some filesystems and is
 * kept by `cp -p`/rsync. Hashing 15 MB costs ~40 ms, small next to parsing it.
 *
 * Undefined when a file cannot be read (missing, no permission): the full read that follows then
 * fails with the connector's own clear message instead of this function guessing.
 */
export async function csvSnapshotToken(config: CsvConfig, configDir: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  hash.update(canonicalJson(config));
  const sections: [string, CsvFileConfig | undefined][] = [
    ['users', config.users],
    ['groups', config.groups],
    ['memberships', config.memberships],
  ];
  for (const [name, section] of sections) {
    if (!section) continue;
    // Each file's bytes are framed by its section name and length, so bytes moving from one file
    // to the next (or a section appearing) can never give the same stream to hash.
    const size = await hashFile(resolve(configDir, section.path), hash, name);
    if (size === undefined) return undefined;
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Streams a file into `hash`; returns its size, or undefined when it cannot be read. */
async function hashFile(path: string, hash: Hash, label: string): Promise<number | undefined> {
  // The file is hashed into a hash of its own first, so the frame (which needs the length) can be
  // written before the content without holding the whole file in memory.
  const inner = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: HASH_CHUNK })) {
      const buf = chunk as Buffer;
      inner.update(buf);
      size += buf.length;
    }
  } catch {
    return undefined;
  }
  hash.update(`\n${label}:${size}:${inner.digest('hex')}`);
  return size;
}
