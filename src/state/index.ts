export { openState, openDatabase } from './open.js';
export { StateError } from './errors.js';
export { LATEST_VERSION as STATE_SCHEMA_VERSION } from './migrations.js';
export { processAlive } from './lock.js';
export type * from './types.js';
