/**
 * Kernel speed, every figure against a baseline measured in the same run:
 * - fp8Gemm (promotion every 128, no accumulator emulation) vs f32Gemm with the same blocking (target >= 0.5x);
 * - per-tile quantization GB/s (float32 input bytes per second) vs memcpy (Uint8Array.set) of the same
 *   bytes (target >= 10%), inline and split over the kernel pool.
 */
import { createKernelPool, f32Gemm, fp8Gemm, quantizePerBlock, quantizePerTile } from '../src/index.js';
import { medianMs, pairedRatio, table } from './util.js';

const ramp = (len: number, seed: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * 0.61 + seed));

export default async function (): Promise<void> {
  const m = 256, n = 256, k = 1024;
  const x = ramp(m * k, 1), w = ramp(n * k, 2);
  const a = quantizePerTile(x, m, k), b = quantizePerBlock(w, n, k);
  const flops = 2 * m * n * k;
  const f32Ms = await medianMs(7, () => f32Gemm(x, w, m, n, k));
  const fp8Ms = await medianMs(7, () => fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k));
  const f32G = flops / f32Ms / 1e6, fp8G = flops / fp8Ms / 1e6;
  table([
    { kernel: 'f32Gemm', shape: `${m}x${n}x${k}`, ms: f32Ms, 'GFLOP/s': f32G, ratio: 1 },
    { kernel: 'fp8Gemm (promotion 128)', shape: `${m}x${n}x${k}`, ms: fp8Ms, 'GFLOP/s': fp8G, ratio: fp8G / f32G },
  ]);

  const rows = 8192, cols = 2048; // 64 MiB of float32 activations
  const big = ramp(rows * cols, 3);
  const src = new Uint8Array(big.buffer), dst = new Uint8Array(big.byteLength).fill(1);
  const bytes = big.byteLength;
  const copyMs = await medianMs(9, () => dst.set(src));
  // Preallocated (pre-faulted) outputs, as memcpy's destination is.
  const out = { q: new Uint8Array(rows * cols).fill(1), scales: new Float32Array((rows * cols) / 128).fill(1) };
  // Quantize and memcpy alternate, so the ratio compares runs under the same machine load.
  const paired = await pairedRatio(9, () => dst.set(src), () => quantizePerTile(big, rows, cols, { out }));
  const quantMs = paired.fnMs;
  // The pool: the same tensor split by rows into `threads` shared-memory slices.
  const pool = createKernelPool({ inlineBelowBytes: 0 });
  const shared = new Float32Array(new SharedArrayBuffer(bytes));
  shared.set(big);
  const parts = pool.threads;
  const per = Math.ceil(rows / parts);
  const poolMs = await medianMs(5, () =>
    Promise.all(Array.from({ length: parts }, (_, p) => {
      const r0 = p * per, r1 = Math.min(rows, r0 + per);
      return pool.quantizePerTile(shared.subarray(r0 * cols, r1 * cols), r1 - r0, cols);
    })));
  await pool.close();
  const gbs = (ms: number) => bytes / ms / 1e6;
  table([
    { op: 'memcpy (Uint8Array.set)', MiB: bytes / 2 ** 20, ms: copyMs, 'GB/s': gbs(copyMs), 'vs memcpy': 1 },
    { op: 'quantizePerTile inline (paired with memcpy)', MiB: bytes / 2 ** 20, ms: quantMs, 'GB/s': gbs(quantMs), 'vs memcpy': paired.ratio },
    { op: `quantizePerTile pool x${parts}`, MiB: bytes / 2 ** 20, ms: poolMs, 'GB/s': gbs(poolMs), 'vs memcpy': copyMs / poolMs },
  ]);
}
