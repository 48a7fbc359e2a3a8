export { storageSuite, type StorageHarness } from './storage-suite.js';
export { brokerSuite, type BrokerHarness, type BrokerSuiteOptions } from './broker-suite.js';
export { engineSuite, waitFor, type EngineHarness } from './engine-suite.js';
export { createTestEnv, type TestEnv, type TestEnvOptions } from './test-env.js';
export { serverRestartScenario, type RestartScenario } from './restart-scenario.js';
export { workerKilledMidStepScenario, workerStoppedBySignalScenario, type ProcessBackend } from './process-scenarios.js';
