/**
 * @module
 * Public surface of src/scenario (re-exported by src/index.ts): scenario files and running them.
 */
export { scenarioSchema } from './schema.js';
export type { Scenario, ScenarioInput, KernelConfig, TraceSampling, ScheduleConfig } from './schema.js';
export { loadScenario, parseScenario } from './load.js';
export { DEFAULT_SCENARIO } from './defaults.js';
export { runScenario, checkScenarioOf } from './run.js';
export type { RunProgress, RunScenarioOptions } from './run.js';
export { routingFigures } from './result.js';
export type { ScenarioResult, RunFigures, PhaseSummary, PerLink, LoadStats, RoutingFigures, StepRouting, BiasRange } from './result.js';
export { PHASES, runMoeSteps } from './moe-steps.js';
export { runScheduledSteps } from './scheduled-steps.js';
export type { PhaseName, PhaseRun, MoeStepsResult, MoeStepsOptions, MoeStepsRunner, MoeProgress } from './moe-steps.js';
export { planScenario, dispatchBytesPerToken, combineBytesPerToken } from './plan.js';
export type { MoePlan, MoeStepPlan, WarmupPlan } from './plan.js';
