/** @module Schedules as data, run on every rank's streams, and the figures they report. */
export { buildSchedule, serialSchedule, twoBatchOverlapSchedule, streamSpecs, kernelId, KERNEL_KINDS, COMM_KINDS } from './schedule.js';
export type { Schedule, ScheduleKernel, ScheduleKind, KernelKind } from './schedule.js';
export { runSchedule, scopeOf } from './run-schedule.js';
export type { ScheduledStepInput, ScheduledKernelRun, ScheduleRun } from './run-schedule.js';
export { simulatedFigures, stepFigures, CACHE_HIT_SHARE, V3_LAYERS, V3_DENSE_LAYERS } from './figures.js';
export type { SimulatedFigures, StepFigures, ScheduleFigures } from './figures.js';
