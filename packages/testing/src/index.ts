export { engineSuite, waitFor, type EngineHarness } from './engine-suite.js';
