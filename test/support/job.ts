import type { JobConfig } from '../../src/config/types.js';

/** A job config with the loader's defaults, for tests that drive the engine below the CLI. */
export function testJob(overrides: Partial<JobConfig> = {}): JobConfig {
  return {
    name: 'j',
    source: 'hr',
    target: 'embedded',
    scope: {},
    match: { users: ['externalId', 'userName'], groups: ['externalId', 'displayName'] },
    mapping: { users: {}, groups: {} },
    deletes: { mode: 'deactivate', maxCount: 500, maxPercent: 10 },
    errorBudget: 50,
    delta: { enabled: true, fullReadEvery: 86_400_000 },
    overlap: 'skip',
    overlapTimeout: 3_600_000,
    ...overrides,
  };
}
