export { storageSuite, type StorageHarness } from './storage-suite.js';
export { brokerSuite, type BrokerHarness, type BrokerSuiteOptions } from './broker-suite.js';
export { engineSuite, waitFor, type EngineHarness } from './engine-suite.js';
