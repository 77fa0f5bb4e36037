/**
 * @module
 * fast-check arbitraries for routing: cluster shapes, gate configs, gate inputs, placements (with
 * replicas) and routings (`topkIdx` with `-1` holes). Every value they produce is valid input for
 * the matching expertmesh function, so a property can go straight to its invariant.
 */
import fc from 'fast-check';
import type { ClusterShape, GateConfig, Placement } from '../routing/index.js';

/** A cluster shape with its node count spelled out. @public */
export interface ClusterShapeSample extends ClusterShape {
  readonly numNodes: number;
}

/** Bounds for {@link clusterShapeArbitrary}. @public */
export interface ClusterShapeOptions {
  /** Largest node count (default 4). */
  readonly maxNodes?: number;
  /** Largest ranks per node (default 4). */
  readonly maxGpusPerNode?: number;
}

/**
 * Cluster shapes: `numNodes` nodes of `gpusPerNode` ranks.
 * @example
 * fc.assert(fc.property(clusterShapeArbitrary(), (s) => s.numRanks === s.numNodes * s.gpusPerNode));
 * @public
 */
export function clusterShapeArbitrary(options: ClusterShapeOptions = {}): fc.Arbitrary<ClusterShapeSample> {
  return fc
    .record({ numNodes: fc.integer({ min: 1, max: options.maxNodes ?? 4 }), gpusPerNode: fc.integer({ min: 1, max: options.maxGpusPerNode ?? 4 }) })
    .map(({ numNodes, gpusPerNode }) => ({ numNodes, gpusPerNode, numRanks: numNodes * gpusPerNode }));
}

/** Bounds for {@link gateConfigArbitrary}. @public */
export interface GateConfigOptions {
  /** Fix the score function (default: either). */
  readonly scoreFunc?: 'sigmoid' | 'softmax';
  /** Largest group count (default 8); 1 gives configs without a group limit. */
  readonly maxGroups?: number;
  /** Largest experts per group (default 8; at least 2, so a biased group score is defined). */
  readonly maxGroupSize?: number;
  /** Largest topk (default 8). */
  readonly maxTopk?: number;
}

/**
 * Valid {@link GateConfig}s: `numGroups` divides `numExperts`, and `topk` fits in the kept groups.
 * @example
 * fc.assert(fc.property(gateConfigArbitrary({ scoreFunc: 'sigmoid' }), (c) => validateGateConfig(c) === c));
 * @public
 */
export function gateConfigArbitrary(options: GateConfigOptions = {}): fc.Arbitrary<GateConfig> {
  const scoreFunc = options.scoreFunc === undefined ? fc.constantFrom('sigmoid' as const, 'softmax' as const) : fc.constant(options.scoreFunc);
  return fc
    .record({
      scoreFunc,
      numGroups: fc.integer({ min: 1, max: options.maxGroups ?? 8 }),
      groupSize: fc.integer({ min: 2, max: Math.max(2, options.maxGroupSize ?? 8) }),
      routeScale: fc.constantFrom(1, 2.5, 16),
    })
    .chain(({ scoreFunc: sf, numGroups, groupSize, routeScale }) =>
      fc.integer({ min: 1, max: numGroups }).chain((topkGroups) =>
        fc.integer({ min: 1, max: Math.min(options.maxTopk ?? 8, topkGroups * groupSize) }).map(
          (topk): GateConfig => ({ scoreFunc: sf, numExperts: numGroups * groupSize, topk, numGroups, topkGroups, routeScale }),
        ),
      ),
    );
}

/** Bounds for the gate-input arbitraries. @public */
export interface GateInputOptions {
  /** Configs to draw from (default {@link gateConfigArbitrary}()). */
  readonly config?: fc.Arbitrary<GateConfig>;
  /** Largest token count (default 8; at least 1). */
  readonly maxTokens?: number;
  /** Largest hidden size (default 8). */
  readonly maxHidden?: number;
  /** Bias: always present, never, or either (default `'maybe'`). */
  readonly bias?: 'always' | 'never' | 'maybe';
}

/** Gate input at the logits level (what {@link gateFromLogits} takes). @public */
export interface LogitsInput {
  readonly config: GateConfig;
  readonly tokens: number;
  /** `[tokens][numExperts]`, finite. */
  readonly logits: Float64Array;
  /** `[numExperts]` in [-0.5, 0.5], or null. */
  readonly bias: Float64Array | null;
}

/** Full gate input (what {@link gate} takes). @public */
export interface GateInput extends Omit<LogitsInput, 'logits'> {
  readonly hidden: number;
  /** `[tokens][hidden]` in [-4, 4]. */
  readonly x: Float32Array;
  /** `[numExperts][hidden]` in [-4, 4]. */
  readonly weight: Float32Array;
}

const f32 = (n: number) => fc.float32Array({ minLength: n, maxLength: n, min: -4, max: 4, noNaN: true, noDefaultInfinity: true });
const f64 = (n: number, bound: number) =>
  fc.float64Array({ minLength: n, maxLength: n, min: -bound, max: bound, noNaN: true, noDefaultInfinity: true });

function biasArbitrary(mode: GateInputOptions['bias'], numExperts: number): fc.Arbitrary<Float64Array | null> {
  if (mode === 'never') return fc.constant(null);
  const b = f64(numExperts, 0.5);
  return mode === 'always' ? b : fc.option(b, { nil: null });
}

/**
 * Inputs for {@link gateFromLogits}: a config, 1..maxTokens tokens, logits in [-8, 8], maybe a bias.
 * @example
 * fc.assert(fc.property(logitsInputArbitrary(), ({ logits, bias, tokens, config }) =>
 *   gateFromLogits(logits, bias, tokens, config).topkIdx.length === tokens * config.topk));
 * @public
 */
export function logitsInputArbitrary(options: GateInputOptions = {}): fc.Arbitrary<LogitsInput> {
  return (options.config ?? gateConfigArbitrary()).chain((config) =>
    fc.integer({ min: 1, max: Math.max(1, options.maxTokens ?? 8) }).chain((tokens) =>
      fc.record({
        config: fc.constant(config),
        tokens: fc.constant(tokens),
        logits: f64(tokens * config.numExperts, 8),
        bias: biasArbitrary(options.bias, config.numExperts),
      }),
    ),
  );
}

/**
 * Inputs for {@link gate}: a config, tokens, hidden size, `x` and `weight` in [-4, 4], maybe a bias.
 * @public
 */
export function gateInputArbitrary(options: GateInputOptions = {}): fc.Arbitrary<GateInput> {
  return (options.config ?? gateConfigArbitrary()).chain((config) =>
    fc
      .record({ tokens: fc.integer({ min: 1, max: Math.max(1, options.maxTokens ?? 8) }), hidden: fc.integer({ min: 1, max: options.maxHidden ?? 8 }) })
      .chain(({ tokens, hidden }) =>
        fc.record({
          config: fc.constant(config),
          tokens: fc.constant(tokens),
          hidden: fc.constant(hidden),
          x: f32(tokens * hidden),
          weight: f32(config.numExperts * hidden),
          bias: biasArbitrary(options.bias, config.numExperts),
        }),
      ),
  );
}

/**
 * Placements of `numExperts` experts on `shape`: each expert on 1..maxReplicas ranks (default 2),
 * drawn at random (not contiguous, ranks may hold no expert).
 * @example
 * fc.assert(fc.property(placementArbitrary(16, { numRanks: 4, gpusPerNode: 2 }), (p) => validatePlacement(p, 16) === p));
 * @public
 */
export function placementArbitrary(numExperts: number, shape: ClusterShape, options: { readonly maxReplicas?: number } = {}): fc.Arbitrary<Placement> {
  const replicas = fc.array(fc.integer({ min: 0, max: shape.numRanks - 1 }), { minLength: 1, maxLength: Math.max(1, options.maxReplicas ?? 2) });
  return fc
    .array(replicas, { minLength: numExperts, maxLength: numExperts })
    .map((expertRanks): Placement => ({ numRanks: shape.numRanks, gpusPerNode: shape.gpusPerNode, expertRanks }));
}

/** A routing as {@link getDispatchLayout} takes it. @public */
export interface RoutingSample {
  readonly tokens: number;
  readonly topk: number;
  readonly numExperts: number;
  readonly shape: ClusterShapeSample;
  /** `[tokens][topk]`: distinct experts per row, some entries `-1`. */
  readonly topkIdx: Int32Array;
}

/** Bounds for {@link routingArbitrary}. @public */
export interface RoutingOptions extends ClusterShapeOptions {
  /** Largest token count (default 16; 0 tokens is possible). */
  readonly maxTokens?: number;
  /** Largest topk (default 8). */
  readonly maxTopk?: number;
  /** Largest experts per rank (default 4). */
  readonly maxExpertsPerRank?: number;
}

/**
 * Routings on a cluster shape: each row holds `topk` distinct expert ids, some replaced by `-1`.
 * @example
 * fc.assert(fc.property(routingArbitrary(), (r) => {
 *   const l = getDispatchLayout(r.topkIdx, r.topk, r.numExperts, r.shape);
 *   return l.isTokenInRank.length === r.tokens * r.shape.numRanks;
 * }));
 * @public
 */
export function routingArbitrary(options: RoutingOptions = {}): fc.Arbitrary<RoutingSample> {
  return clusterShapeArbitrary(options).chain((shape) =>
    fc.integer({ min: 1, max: Math.max(1, options.maxExpertsPerRank ?? 4) }).chain((perRank) => {
      const numExperts = perRank * shape.numRanks;
      return fc.integer({ min: 1, max: Math.min(numExperts, options.maxTopk ?? 8) }).chain((topk) => {
        const row = fc
          .tuple(
            fc.uniqueArray(fc.integer({ min: 0, max: numExperts - 1 }), { minLength: topk, maxLength: topk }),
            fc.array(fc.nat(3), { minLength: topk, maxLength: topk }),
          )
          // About one entry in four becomes a hole (-1).
          .map(([ids, holes]) => ids.map((e, j) => (holes[j] === 0 ? -1 : e)));
        return fc.array(row, { maxLength: options.maxTokens ?? 16 }).map(
          (rows): RoutingSample => ({ tokens: rows.length, topk, numExperts, shape, topkIdx: Int32Array.from(rows.flat()) }),
        );
      });
    }),
  );
}
