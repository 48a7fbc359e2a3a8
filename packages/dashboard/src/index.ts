export { startDashboard, DEFAULT_DASHBOARD_PORT, MIN_TOKEN_LENGTH, type DashboardOptions, type RunningDashboard } from './server/start.js';
export { createDashboardApp, type DashboardAppOptions } from './server/app.js';
export { DashboardTokenRequiredError } from './server/errors.js';
export { isLoopbackHost } from './server/auth.js';
export { layoutTimeline } from './shared/timeline.js';
export { deriveSteps, type LogEvent, type DerivedStep, type DerivedAttempt } from './shared/steps.js';
export type * from './shared/api-types.js';
