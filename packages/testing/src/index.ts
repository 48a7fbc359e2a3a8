export { storageSuite, type StorageHarness, type StorageSuiteOptions } from './storage/suite.js';
export { brokerSuite, type BrokerHarness, type BrokerSuiteOptions } from './broker/suite.js';
export { engineSuite, ENGINE_AREAS, type EngineArea, type EngineHarness, type EngineSuiteOptions } from './engine/suite.js';
export { encryptionSuite, type EncryptionHarness, type RawLocation } from './encryption/suite.js';
export { FULL_CAPABILITIES, type Capabilities, type Feature } from './capabilities.js';
export { waitFor } from './wait.js';
export { createTestEnv, type TestEnv, type TestEnvOptions } from './test-env.js';
export { serverRestartScenario, type RestartScenario } from './restart-scenario.js';
export { workerKilledMidStepScenario, workerStoppedBySignalScenario, type ProcessBackend } from './process-scenarios.js';
