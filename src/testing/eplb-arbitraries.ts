/**
 * @module
 * fast-check arbitraries for the load balancer: EPLB shapes that satisfy every precondition of
 * `rebalanceExperts` (hierarchical and global), load matrices (small integers to provoke ties, or
 * fractions), and routed batches (`topkIdx` with distinct experts and `-1` holes).
 */
import fc from 'fast-check';

/** Arguments of `rebalanceExperts` besides the weights. @public */
export interface EplbShape {
  readonly numLayers: number;
  readonly numExperts: number;
  readonly numReplicas: number;
  readonly numGroups: number;
  readonly numNodes: number;
  readonly numGpus: number;
}

/** Bounds for {@link eplbShapeArbitrary}. @public */
export interface EplbShapeOptions {
  /** Largest node count (default 4). */
  readonly maxNodes?: number;
  /** Largest GPUs per node (default 3). */
  readonly maxGpusPerNode?: number;
  /** Largest layer count (default 3). */
  readonly maxLayers?: number;
}

/**
 * Valid EPLB shapes; about half take the hierarchical path (`numGroups % numNodes === 0`).
 * @example
 * fc.assert(fc.property(eplbShapeArbitrary(), (s) => s.numReplicas % s.numGpus === 0));
 * @public
 */
export function eplbShapeArbitrary(options: EplbShapeOptions = {}): fc.Arbitrary<EplbShape> {
  return fc
    .record({
      numLayers: fc.integer({ min: 1, max: options.maxLayers ?? 3 }),
      numNodes: fc.integer({ min: 1, max: options.maxNodes ?? 4 }),
      gpusPerNode: fc.integer({ min: 1, max: options.maxGpusPerNode ?? 3 }),
      hierarchical: fc.boolean(),
      groupFactor: fc.integer({ min: 1, max: 6 }),
      groupSize: fc.integer({ min: 1, max: 4 }),
      extraSlotsPerGpu: fc.integer({ min: 0, max: 2 }),
    })
    .map((r) => {
      const numGroups = r.hierarchical ? r.numNodes * Math.min(r.groupFactor, 3) : r.groupFactor;
      const numExperts = numGroups * r.groupSize;
      const numGpus = r.numNodes * r.gpusPerNode;
      const slotsPerGpu = Math.ceil(numExperts / numGpus) + r.extraSlotsPerGpu;
      return { numLayers: r.numLayers, numExperts, numReplicas: numGpus * slotsPerGpu, numGroups, numNodes: r.numNodes, numGpus };
    });
}

/**
 * `[numLayers][numExperts]` loads: small integers (many ties) or fractions with three decimals.
 * @public
 */
export function loadMatrixArbitrary(numLayers: number, numExperts: number, maxLoad = 20): fc.Arbitrary<number[][]> {
  const value = fc.oneof(
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: maxLoad }),
    fc.integer({ min: 0, max: maxLoad * 1000 }).map((v) => v / 1000),
  );
  const row = fc.array(value, { minLength: numExperts, maxLength: numExperts });
  return fc.array(row, { minLength: numLayers, maxLength: numLayers });
}

/**
 * An EPLB shape with matching loads.
 * @public
 */
export function eplbInputArbitrary(options: EplbShapeOptions = {}): fc.Arbitrary<EplbShape & { weight: number[][] }> {
  return eplbShapeArbitrary(options).chain((s) => loadMatrixArbitrary(s.numLayers, s.numExperts).map((weight) => ({ ...s, weight })));
}

/**
 * A routed batch over `numExperts` logical experts: each token picks `topk` distinct experts, some
 * entries replaced by `-1`. Low ids are favoured so that some experts are hot.
 * @public
 */
export function topkBatchArbitrary(numExperts: number, topk: number, maxTokens = 24): fc.Arbitrary<number[][]> {
  const k = Math.min(topk, numExperts);
  const expert = fc.oneof(fc.integer({ min: 0, max: Math.min(2, numExperts - 1) }), fc.integer({ min: 0, max: numExperts - 1 }));
  const row = fc
    .tuple(fc.uniqueArray(expert, { minLength: k, maxLength: k }), fc.array(fc.boolean(), { minLength: k, maxLength: k }))
    .map(([ids, holes]) => ids.map((e, i) => (holes[i] && i > 0 ? -1 : e)));
  return fc.array(row, { minLength: 0, maxLength: maxTokens });
}
