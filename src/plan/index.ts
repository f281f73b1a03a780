export * from './types.js';
export { planJob, fingerprintGroup, fingerprintUser } from './planner.js';
export { renderPlanText, formatValue, type RenderTextOptions } from './render-text.js';
export { renderPlanJson, parsePlanJson } from './render-json.js';
export { simulateApply, type Snapshot } from './apply-to-snapshot.js';
