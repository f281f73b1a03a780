import { USER_ATTRIBUTES } from '../../src/core/attributes.js';
import type { UserAttribute } from '../../src/core/attributes.js';
import type { DirectoryReader } from '../../src/core/connector.js';
import { arrayListing } from '../../src/core/listing.js';
import type { DirectoryStore } from './store.js';

/**
 * externalId is excluded: on the embedded directory it is the anchor written by the job that
 * provisioned the object, not an attribute this directory owns and could pass on as a source.
 */
const ATTRIBUTES: readonly UserAttribute[] = USER_ATTRIBUTES.filter((a) => a !== 'externalId');

// Listings are taken in one query on the first next(), so each is one consistent snapshot;
// `.all()` rather than `.iterate()` in the store, since an open iterator keeps the connection busy.
export function createReader(store: () => DirectoryStore): DirectoryReader {
  return {
    listUsers: () => arrayListing(() => store().allUsers()),
    listGroups: () => arrayListing(() => store().allGroups()),
    userAttributes: () => ATTRIBUTES,
    snapshotToken: async () => store().contentToken(),
  };
}
