/**
 * Every workflow of the engine suite, by area, and the list its workers register. Defined once per
 * process (step names are global), with side effects counted per run (see effects.ts).
 */
import type { Workflow } from '@durably/core';
import { basicsWorkflows } from './basics-workflows.js';
import { cancellationWorkflows } from './cancellation-workflows.js';
import { childrenWorkflows } from './children-workflows.js';
import { continueAsNewWorkflows } from './continue-as-new-workflows.js';
import { hooksWorkflows } from './hooks-workflows.js';
import { limitsWorkflows } from './limits-workflows.js';
import { messagesWorkflows } from './messages-workflows.js';
import { recoveryWorkflows } from './recovery-workflows.js';
import { schedulesWorkflows } from './schedules-workflows.js';
import { stepsWorkflows } from './steps-workflows.js';
import { streamsWorkflows } from './streams-workflows.js';
import { timersWorkflows } from './timers-workflows.js';
import { updatesWorkflows } from './updates-workflows.js';

export * from './effects.js';
export * from './basics-workflows.js';
export * from './cancellation-workflows.js';
export * from './children-workflows.js';
export * from './continue-as-new-workflows.js';
export * from './hooks-workflows.js';
export * from './limits-workflows.js';
export * from './messages-workflows.js';
export * from './recovery-workflows.js';
export * from './schedules-workflows.js';
export * from './steps-workflows.js';
export * from './streams-workflows.js';
export * from './timers-workflows.js';
export * from './updates-workflows.js';

/** What the suite's workers register (`declaredJob` and the lease and unknown-workflow tests' own are added by their tests). */
export const allWorkflows: Workflow<any[], any>[] = [
  ...basicsWorkflows,
  ...stepsWorkflows,
  ...timersWorkflows,
  ...hooksWorkflows,
  ...messagesWorkflows,
  ...cancellationWorkflows,
  ...childrenWorkflows,
  ...continueAsNewWorkflows,
  ...limitsWorkflows,
  ...schedulesWorkflows,
  ...streamsWorkflows,
  ...recoveryWorkflows,
  ...updatesWorkflows,
];
