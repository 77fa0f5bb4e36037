/**
 * @module
 * Built-in bench modes, one line each: `registerLazyBenchMode(name, summary, () => import(...))`.
 * The loaded module must export the mode (a `Command` named `bench <name>`), e.g.
 * `registerLazyBenchMode('deepep', 'DeepEP-style dispatch/combine benchmark', async () => (await import('../ep/bench-deepep.js')).deepepBench);`
 */
import { registerLazyBenchMode } from './bench-registry.js';

registerLazyBenchMode('deepep', "DeepEP's normal dispatch/combine benchmark", async () => (await import('./bench-deepep-command.js')).benchDeepepCommand);
