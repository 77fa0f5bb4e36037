/** @module Public surface of src/kernels (re-exported by src/index.ts): FP8/BF16 numerics, GEMMs, experts, compute model, kernel pool. */
export { E4M3, E5M2, E4M3_VALUES, E5M2_VALUES, encodeE4M3, decodeE4M3, encodeE5M2, decodeE5M2, encodeE4M3Array, decodeE4M3Array, encodeE5M2Array, decodeE5M2Array } from './fp8-format.js';
export type { Fp8Format, Fp8Overflow, Fp8EncodeOptions } from './fp8-format.js';
export { toBF16Bits, fromBF16Bits, roundBF16, toBF16Array, fromBF16Array, roundBF16Array } from './bf16.js';
export { QUANT_GROUP, quantizePerTile, quantizePerBlock, tileToColumnQuant, dequantizePerTile, dequantizePerBlock } from './quantize.js';
export type { Quantized, QuantizeOptions } from './quantize.js';
export { fp8Gemm, f32Gemm } from './gemm.js';
export type { GemmOptions } from './gemm.js';
export { swigluInPlace, expertFfn, expertFfnFp8, quantizeExpertWeights } from './ffn.js';
export type { ExpertWeights, QuantizedExpertWeights, ExpertFfnOptions } from './ffn.js';
export { combine } from './combine.js';
export type { CombineOptions } from './combine.js';
export { DEFAULT_COMPUTE_MODEL, FORMAT_BYTES, kernelTimeUs, gemmCost, gemmTimeUs, expertTimeUs } from './compute-model.js';
export type { ComputeFormat, ComputeModelParams, KernelCost, ComputeTimeOptions, GemmShape, ExpertShape } from './compute-model.js';
export { KernelPool, createKernelPool } from './kernel-pool.js';
export type { KernelPoolOptions, KernelPoolStats } from './kernel-pool.js';
export { runKernelTask } from './kernel-tasks.js';
export type { KernelTask, KernelResult, KernelValue } from './kernel-tasks.js';
