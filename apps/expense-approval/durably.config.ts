// Read by the durably CLI run from this folder: `npm run durably -- worker` runs a worker of this
// app's workflows in a process of its own, `npm run durably -- start expense-approval` checks the
// name. No storage or broker here: DURABLY_STORAGE / DURABLY_BROKER, else the embedded default.
import { defineConfig } from '@durably/core';

export default defineConfig({ workflows: ['./src/workflows.ts'] });
