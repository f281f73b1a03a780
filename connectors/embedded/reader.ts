import { USER_ATTRIBUTES } from '../../src/core/attributes.js';
import type { UserAttribute } from '../../src/core/attributes.js';
import type { DirectoryReader } from '../../src/core/connector.js';
import type { DirectoryStore } from './store.js';

/**
 * externalId is excluded: on the embedded directory it is the anchor written by the job that
 * provisioned the object, not an attribute this directory owns and could pass on as a source.
 */
const ATTRIBUTES: readonly UserAttribute[] = USER_ATTRIBUTES.filter((a) => a !== 'externalId');

/**
 * Hands out a listing taken in one query on the first `next()`, so it is one consistent snapshot.
 * `.all()` rather than `.iterate()` in the store: an open iterator keeps the connection busy. A
 * plain iterator rather than an async generator: the generator's extra awaits per item are
 * measurable at 100k users.
 */
function listing<T>(take: () => readonly T[]): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      let items: readonly T[] | undefined;
      let i = 0;
      return {
        async next(): Promise<IteratorResult<T>> {
          items ??= take();
          return i < items.length ? { value: items[i++]!, done: false } : { value: undefined, done: true };
        },
      };
    },
  };
}

export function createReader(store: () => DirectoryStore): DirectoryReader {
  return {
    listUsers: () => listing(() => store().allUsers()),
    listGroups: () => listing(() => store().allGroups()),
    userAttributes: () => ATTRIBUTES,
    snapshotToken: async () => store().contentToken(),
  };
}
