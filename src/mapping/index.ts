export * from './user-mapping.js';
export * from './group-mapping.js';
