import { describe, expect, it } from 'vitest';
import { f32Gemm, quantizePerTile, runKernelTask, type KernelTask } from '../../../src/kernels/index.js';
import { resultOperands, taskOperands, transferList } from '../../../src/kernels/kernel-tasks.js';
import { workerFilename } from '../../../src/kernels/worker-entry.js';
import { readFileSync } from 'node:fs';

describe('kernel tasks (what the pool workers run)', () => {
  it('runs each op and returns errors as wire data', () => {
    const a = new Float32Array(256).fill(1);
    const r = runKernelTask({ op: 'f32Gemm', a, b: a, m: 1, n: 1, k: 256 });
    expect(r).toEqual({ ok: true, value: f32Gemm(a, a, 1, 1, 256) });
    const q = runKernelTask({ op: 'quantizePerTile', x: a, m: 2, n: 128 });
    expect(q).toEqual({ ok: true, value: quantizePerTile(a, 2, 128) });
    expect(resultOperands(q)).toHaveLength(2);
    const bad = runKernelTask({ op: 'quantizePerTile', x: a, m: 1, n: 100 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'E_ARGUMENT', data: { argument: 'n' } } });
    expect(runKernelTask({ op: 'nope' } as unknown as KernelTask)).toMatchObject({ ok: false, error: { code: 'E_ARGUMENT', data: { argument: 'op' } } });
    expect(resultOperands(bad)).toEqual([]);
  });

  it('transfer list: distinct ArrayBuffers only, SharedArrayBuffers are shared not transferred', () => {
    const buf = new ArrayBuffer(1024);
    const sab = new Float32Array(new SharedArrayBuffer(512));
    const x = new Float32Array(buf, 0, 128), y = new Float32Array(buf, 512, 128);
    expect(transferList(taskOperands({ op: 'f32Gemm', a: x, b: y, m: 1, n: 1, k: 128 }))).toEqual([buf]);
    expect(transferList(taskOperands({ op: 'f32Gemm', a: sab, b: x, m: 1, n: 1, k: 128 }))).toEqual([buf]);
    expect(transferList([sab])).toEqual([]);
  });

  it('worker filename: dist loads the .js sibling, src gets a tsx bootstrap importing the .ts entry', () => {
    expect(workerFilename('kernel-worker', 'file:///x/dist/kernels/kernel-pool.js')).toBe('/x/dist/kernels/kernel-worker.js');
    const boot = workerFilename('kernel-worker', new URL('../../../src/kernels/kernel-pool.ts', import.meta.url).href);
    expect(boot.endsWith('.mjs')).toBe(true);
    const text = readFileSync(boot, 'utf8');
    expect(text).toContain('register()');
    expect(text).toContain('src/kernels/kernel-worker.ts');
  });
});
