export * from './types.js';
export { loadConfig, redactedConfigView, SEARCH_PLACES, IMPLICIT_CONNECTOR, MODULE_NAME, type LoadConfigOptions } from './load.js';
export { suggest, didYouMean } from './suggest.js';
