/**
 * @module
 * A sliding-window recorder of per-layer, per-expert loads: the "observed load" EPLB re-plans from.
 */
import { fail } from '../errors.js';
import { checkAlloc, checkInt } from '../validate.js';
import { requireLoad } from './validate.js';

/**
 * Records tokens per (layer, expert) step by step and sums the last `windowSteps` closed steps.
 * @example
 * ```ts
 * import { ExpertLoadRecorder } from 'expertmesh';
 * const rec = new ExpertLoadRecorder(1, 4, 2);
 * rec.recordTopk(0, [[0, 1], [0, 3]]);
 * rec.endStep();
 * console.log(rec.window()); // [[2, 1, 0, 1]]
 * ```
 * @public
 */
export class ExpertLoadRecorder {
  private readonly ring: Float64Array[] = [];
  private readonly sum: Float64Array;
  private current: Float64Array;
  private oldest = 0;

  /**
   * @param numLayers - MoE layers recorded.
   * @param numExperts - Logical experts per layer.
   * @param windowSteps - Closed steps kept in the window.
   */
  constructor(
    readonly numLayers: number,
    readonly numExperts: number,
    readonly windowSteps: number,
  ) {
    checkInt(numLayers, 'numLayers', 1);
    checkInt(numExperts, 'numExperts', 1);
    checkInt(windowSteps, 'windowSteps', 1);
    checkAlloc('ExpertLoadRecorder', 'the load window', numLayers * numExperts * 8 * 2, 'numLayers or numExperts');
    this.sum = new Float64Array(numLayers * numExperts);
    this.current = new Float64Array(numLayers * numExperts);
  }

  /** Closed steps currently in the window (at most `windowSteps`). */
  get steps(): number {
    return this.ring.length;
  }

  private checkLayer(layer: number): void {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.numLayers) {
      fail('E_ARGUMENT', `layer ${layer} is out of range [0, ${this.numLayers})`, { argument: 'layer', value: layer });
    }
  }

  /** Add tokens per expert of one layer to the open step. */
  record(layer: number, expertTokens: readonly number[]): void {
    this.checkLayer(layer);
    if (expertTokens.length !== this.numExperts) {
      fail('E_ARGUMENT', `expertTokens has length ${expertTokens.length}, expected ${this.numExperts}`, { argument: 'expertTokens' });
    }
    const base = layer * this.numExperts;
    expertTokens.forEach((v, e) => (this.current[base + e]! += requireLoad(`expertTokens[${e}]`, v)));
  }

  /** Count one layer's routed top-k (logical ids, `-1` ignored) into the open step. */
  recordTopk(layer: number, topkIdx: readonly (readonly number[])[]): void {
    this.checkLayer(layer);
    const base = layer * this.numExperts;
    for (const row of topkIdx) {
      for (const e of row) {
        if (e === -1) continue;
        if (!Number.isInteger(e) || e < 0 || e >= this.numExperts) {
          fail('E_ARGUMENT', `topkIdx holds ${e}, not an expert in [-1, ${this.numExperts})`, { argument: 'topkIdx', value: e });
        }
        this.current[base + e]! += 1;
      }
    }
  }

  /** Close the open step; the oldest step leaves the window when it is full. */
  endStep(): void {
    const step = this.current;
    for (let i = 0; i < step.length; i++) this.sum[i]! += step[i]!;
    if (this.ring.length < this.windowSteps) {
      this.ring.push(step);
      this.current = new Float64Array(step.length);
    } else {
      const old = this.ring[this.oldest]!;
      for (let i = 0; i < old.length; i++) this.sum[i]! -= old[i]!;
      this.ring[this.oldest] = step;
      this.oldest = (this.oldest + 1) % this.windowSteps;
      this.current = old.fill(0);
    }
  }

  /** Record a whole `[layers][experts]` step and close it. */
  recordStep(load: readonly (readonly number[])[]): void {
    if (load.length !== this.numLayers) fail('E_ARGUMENT', `load has ${load.length} layers, expected ${this.numLayers}`, { argument: 'load' });
    load.forEach((row, l) => this.record(l, row));
    this.endStep();
  }

  /** Summed `[layers][experts]` load of the closed steps in the window. */
  window(): number[][] {
    return Array.from({ length: this.numLayers }, (_, l) => Array.from(this.sum.subarray(l * this.numExperts, (l + 1) * this.numExperts)));
  }
}
