/**
 * @module
 * Periodic rebalancing: record loads every step, re-plan every `intervalSteps` steps (or on demand)
 * from the recorder's window, and report what moving the expert weights costs.
 */
import { fail } from '../errors.js';
import { rebalanceExperts, type EplbPlan } from './eplb.js';
import { ExpertLoadRecorder } from './load-recorder.js';
import { weightMoveCost, type WeightMoveCost } from './move-cost.js';
import { checkAlloc, checkArray, checkInt, checkObject } from '../validate.js';
import { requireLoad } from './validate.js';

/** Options of {@link PeriodicRebalancer}. */
export interface RebalancerOptions {
  numLayers: number;
  numExperts: number;
  /** Physical slots per layer (see {@link rebalanceExperts}). */
  numReplicas: number;
  numGroups: number;
  numNodes: number;
  numGpus: number;
  /** Re-plan after this many recorded steps. */
  intervalSteps: number;
  /** Steps the load window keeps; default `intervalSteps`. */
  windowSteps?: number;
  /** Bytes of one expert's weights (e.g. 3 x 7168 x 2048 at FP8 for DeepSeek-V3). */
  bytesPerExpert: number;
  /** Loads the first plan is made from; default uniform. */
  initialWeight?: readonly (readonly number[])[];
}

/** One re-plan: the new plan and what switching to it costs. */
export interface RebalanceEvent {
  /** Steps recorded when the plan was made. */
  step: number;
  plan: EplbPlan;
  cost: WeightMoveCost;
}

/**
 * Keeps a current plan and re-plans it from observed load.
 * @example
 * ```ts
 * import { PeriodicRebalancer } from 'expertmesh';
 * const rb = new PeriodicRebalancer({ numLayers: 1, numExperts: 4, numReplicas: 6, numGroups: 1, numNodes: 1,
 *   numGpus: 2, intervalSteps: 2, bytesPerExpert: 1e6 });
 * rb.step([[9, 1, 1, 1]]);
 * const ev = rb.step([[9, 1, 1, 1]]);
 * console.log(ev?.plan.logcnt, ev?.cost.totalBytes);
 * ```
 * @public
 */
export class PeriodicRebalancer {
  /** The load window the plans are made from. */
  readonly recorder: ExpertLoadRecorder;
  private current: EplbPlan;
  private steps = 0;
  private sinceReplan = 0;

  constructor(readonly options: RebalancerOptions) {
    checkObject(options, 'options');
    checkInt(options.intervalSteps, 'intervalSteps', 1);
    requireLoad('bytesPerExpert', options.bytesPerExpert);
    this.recorder = new ExpertLoadRecorder(options.numLayers, options.numExperts, options.windowSteps ?? options.intervalSteps);
    checkInt(options.numLayers, 'numLayers', 1);
    checkInt(options.numExperts, 'numExperts', 1);
    checkInt(options.numReplicas, 'numReplicas', 1);
    // The load matrices (initial, window) and a plan of numReplicas slots per layer.
    checkAlloc('PeriodicRebalancer', 'the load matrices and plans', options.numLayers * (options.numExperts * 8 * 4 + options.numReplicas * 8 * 6), 'numLayers, numExperts or numReplicas', true);
    const initial = options.initialWeight ?? Array.from({ length: options.numLayers }, () => new Array<number>(options.numExperts).fill(1));
    checkArray(initial, 'initialWeight');
    if (initial.length !== options.numLayers) {
      fail('E_ARGUMENT', `initialWeight has ${initial.length} layers, expected ${options.numLayers}`, { argument: 'initialWeight' });
    }
    this.current = this.planFrom(initial);
  }

  /** The plan in force. */
  get plan(): EplbPlan {
    return this.current;
  }

  private planFrom(weight: readonly (readonly number[])[]): EplbPlan {
    const o = this.options;
    return rebalanceExperts(weight, o.numReplicas, o.numGroups, o.numNodes, o.numGpus);
  }

  /** Record one step's `[layers][experts]` load; returns the re-plan event when one is due. */
  step(load: readonly (readonly number[])[]): RebalanceEvent | undefined {
    this.recorder.recordStep(load);
    this.steps += 1;
    this.sinceReplan += 1;
    return this.sinceReplan >= this.options.intervalSteps ? this.rebalanceNow() : undefined;
  }

  /** Re-plan now from the window (the current plan's loads if nothing was recorded yet). */
  rebalanceNow(): RebalanceEvent {
    const o = this.options;
    const next = this.recorder.steps > 0 ? this.planFrom(this.recorder.window()) : this.current;
    const cost = weightMoveCost(this.current.phy2log, next.phy2log, o.numGpus, o.numNodes, o.bytesPerExpert);
    this.current = next;
    this.sinceReplan = 0;
    return { step: this.steps, plan: next, cost };
  }
}
