/**
 * @module
 * The routing's array type (its argument checks are the shared ones in src/validate.ts).
 * @internal
 */

/** Row-major numeric matrix accepted by the routing functions. */
export type NumericArray = Float32Array | Float64Array;
