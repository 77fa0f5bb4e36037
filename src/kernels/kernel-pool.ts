/**
 * @module
 * The kernel pool: heavy kernels (GEMMs, quantization of large tensors) on a piscina pool, small ones
 * inline on the calling thread.
 *
 * Operands never go through structured clone: arrays backed by a SharedArrayBuffer are shared, any
 * other operand's ArrayBuffer is *transferred* (it is detached in the caller after the call; pass
 * SAB-backed arrays to keep them). Results are transferred back.
 *
 * Core sharing: the pool is sized, not shared. By default it runs at most
 * `max(1, availableParallelism() - 1)` threads (1 on a 2-core machine) and lets them exit after
 * `idleTimeoutMs`, leaving one core to the main thread and the runtime's GPU-actor workers (which block
 * in Atomics waits while their kernel runs on the pool). A runtime that keeps `r` busy threads of its
 * own passes `threads: max(1, cores - r)`.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { fail, fromWireError, showValue } from '../errors.js';
import type { GemmOptions } from './gemm.js';
import { runKernelTask, taskOperands, transferList, type KernelResult, type KernelTask, type KernelValue, checkTask } from './kernel-tasks.js';
import type { Quantized, QuantizeOptions } from './quantize.js';
import { checkInt } from '../validate.js';
import { kernelWorkerFilename } from './worker-entry.js';

/** Options of {@link createKernelPool}. */
export interface KernelPoolOptions {
  /** Maximum worker threads. Default `max(1, availableParallelism() - 1)`. */
  threads?: number;
  /** GEMMs below this many flops (2mnk) run inline. Default 2^24 (~16 MFLOP, a few ms in JS). */
  inlineBelowFlops?: number;
  /** Quantizations below this many input bytes run inline. Default 1 MiB. */
  inlineBelowBytes?: number;
  /** Idle worker threads exit after this long, ms. Default 2000. */
  idleTimeoutMs?: number;
  /** Worker module (absolute path); default: resolved next to this module (see `kernelWorkerFilename`). */
  filename?: string;
}

/** Counters of a {@link KernelPool}. */
export interface KernelPoolStats {
  /** Tasks run on the calling thread. */
  inline: number;
  /** Tasks run on the pool. */
  offloaded: number;
}

/**
 * A pool of kernel workers. Create with {@link createKernelPool}; end with `close()` (waits for running
 * tasks) or `destroy()` (terminates at once, pending calls reject).
 * @example
 * const pool = createKernelPool({ threads: 1 });
 * const c = await pool.fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k);
 * await pool.close();
 */
export class KernelPool {
  readonly #opts: Required<Omit<KernelPoolOptions, 'filename'>> & { filename: string | undefined };
  #piscina: Piscina | null = null;
  #closed = false;
  readonly #stats: KernelPoolStats = { inline: 0, offloaded: 0 };

  constructor(opts: KernelPoolOptions = {}) {
    this.#opts = {
      threads: checkInt(opts.threads ?? Math.max(1, availableParallelism() - 1), 'threads', 1),
      inlineBelowFlops: nonNegative('inlineBelowFlops', opts.inlineBelowFlops ?? 2 ** 24),
      inlineBelowBytes: nonNegative('inlineBelowBytes', opts.inlineBelowBytes ?? 2 ** 20),
      idleTimeoutMs: nonNegative('idleTimeoutMs', opts.idleTimeoutMs ?? 2000),
      filename: opts.filename,
    };
  }

  /** Maximum worker threads of this pool. */
  get threads(): number {
    return this.#opts.threads;
  }

  /** How many tasks ran inline and on the pool. */
  get stats(): Readonly<KernelPoolStats> {
    return { ...this.#stats };
  }

  /** {@link fp8Gemm} on the pool (inline when small). Non-shared operands are transferred. */
  fp8Gemm(aQ: Uint8Array, aScales: Float32Array, bQ: Uint8Array, bScales: Float32Array, m: number, n: number, k: number, opts?: GemmOptions): Promise<Float32Array> {
    return this.#run({ op: 'fp8Gemm', aQ, aScales, bQ, bScales, m, n, k, ...(opts ? { opts } : {}) }, 2 * m * n * k < this.#opts.inlineBelowFlops) as Promise<Float32Array>;
  }

  /** {@link f32Gemm} on the pool (inline when small). Non-shared operands are transferred. */
  f32Gemm(a: Float32Array, b: Float32Array, m: number, n: number, k: number, opts?: GemmOptions): Promise<Float32Array> {
    return this.#run({ op: 'f32Gemm', a, b, m, n, k, ...(opts ? { opts } : {}) }, 2 * m * n * k < this.#opts.inlineBelowFlops) as Promise<Float32Array>;
  }

  /** {@link quantizePerTile} on the pool (inline when small). A non-shared `x` is transferred. */
  quantizePerTile(x: Float32Array, m: number, n: number, opts?: QuantizeOptions): Promise<Quantized> {
    return this.#run({ op: 'quantizePerTile', x, m, n, ...(opts ? { opts } : {}) }, this.#small(x)) as Promise<Quantized>;
  }

  /** {@link quantizePerBlock} on the pool (inline when small). A non-shared `w` is transferred. */
  quantizePerBlock(w: Float32Array, m: number, n: number, opts?: QuantizeOptions): Promise<Quantized> {
    return this.#run({ op: 'quantizePerBlock', w, m, n, ...(opts ? { opts } : {}) }, this.#small(w)) as Promise<Quantized>;
  }

  /** {@link tileToColumnQuant} on the pool (inline when small). Non-shared operands are transferred. */
  tileToColumnQuant(q: Uint8Array, scales: Float32Array, m: number, n: number, opts?: QuantizeOptions): Promise<Quantized> {
    return this.#run({ op: 'tileToColumnQuant', q, scales, m, n, ...(opts ? { opts } : {}) }, this.#small(q, 4)) as Promise<Quantized>;
  }

  /** Wait for running tasks, then stop the threads. Later calls reject with `E_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    const p = this.#piscina;
    this.#piscina = null;
    if (p) await p.close();
  }

  /** Stop the threads at once; pending calls reject. Later calls reject with `E_CLOSED`. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const p = this.#piscina;
    this.#piscina = null;
    if (p) await p.destroy();
  }

  /** Same as {@link KernelPool.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #small(v: ArrayBufferView, scale = 1): boolean {
    return ArrayBuffer.isView(v) && v.byteLength * scale < this.#opts.inlineBelowBytes;
  }

  async #run(task: KernelTask, inline: boolean): Promise<KernelValue> {
    if (this.#closed) fail('E_CLOSED', 'the kernel pool is closed', { op: task.op });
    checkTask(task);
    let result: KernelResult;
    if (inline) {
      this.#stats.inline++;
      result = runKernelTask(task);
    } else {
      this.#stats.offloaded++;
      result = (await this.#pool().run(task, { transferList: transferList(taskOperands(task)) })) as KernelResult;
    }
    if (!result.ok) throw fromWireError(result.error);
    return result.value;
  }

  #pool(): Piscina {
    this.#piscina ??= new Piscina({
      filename: this.#opts.filename ?? kernelWorkerFilename(),
      minThreads: 0,
      maxThreads: this.#opts.threads,
      idleTimeout: this.#opts.idleTimeoutMs,
    });
    return this.#piscina;
  }
}

function nonNegative(name: string, v: number): number {
  if (!(typeof v === 'number' && v >= 0)) fail('E_ARGUMENT', `${name} must be a non-negative number, got ${showValue(v)}`, { argument: name, value: v });
  return v;
}

/**
 * Create a kernel pool. Threads start on the first offloaded task.
 * @example const pool = createKernelPool(); try { await pool.quantizePerTile(x, m, n); } finally { await pool.close(); }
 */
export function createKernelPool(opts?: KernelPoolOptions): KernelPool {
  return new KernelPool(opts);
}
