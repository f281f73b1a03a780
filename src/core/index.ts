export * from './model.js';
export * from './attributes.js';
export * from './connector.js';
export * from './errors.js';
export * from './logger.js';
export * from './secrets.js';
export * from './listing.js';
