import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKernelPool, fp8Gemm, isExpertmeshError, quantizePerBlock, quantizePerTile } from '../../src/index.js';

const root = new URL('../../', import.meta.url);
const ramp = (len: number, seed: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * 0.3 + seed));

describe('kernel pool (from src: tsx bootstrap)', () => {
  const pool = createKernelPool({ threads: 1, inlineBelowFlops: 0, inlineBelowBytes: 0 });
  afterAll(() => pool.destroy());

  it('runs a GEMM on a worker, transferring operands (detached) and returning the same result', async () => {
    const m = 8, n = 130, k = 256;
    const a = quantizePerTile(ramp(m * k, 1), m, k), b = quantizePerBlock(ramp(n * k, 2), n, k);
    const expected = fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k);
    const c = await pool.fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k);
    expect([...c]).toEqual([...expected]);
    expect(a.q.byteLength).toBe(0); // transferred, not cloned
    expect(pool.stats.offloaded).toBe(1);
  });

  it('shares SharedArrayBuffer operands instead of transferring them', async () => {
    const x = new Float32Array(new SharedArrayBuffer(4 * 2 * 128));
    x.set(ramp(256, 3));
    const { q, scales } = await pool.quantizePerTile(x, 2, 128);
    expect(x.length).toBe(256);
    const ref = quantizePerTile(x, 2, 128);
    expect([...q]).toEqual([...ref.q]);
    expect([...scales]).toEqual([...ref.scales]);
  });

  it('rejects with the typed error (code and data survive the thread)', async () => {
    const err = await pool.quantizePerTile(new Float32Array(100), 1, 100).catch((e: unknown) => e);
    expect(isExpertmeshError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'E_ARGUMENT', data: { argument: 'n', value: 100 } });
  });

  it('runs small kernels inline and rejects after close', async () => {
    const small = createKernelPool({ threads: 1 });
    const a = new Float32Array([1, 2]);
    expect([...(await small.f32Gemm(a, a, 1, 1, 2))]).toEqual([5]);
    expect(small.stats).toEqual({ inline: 1, offloaded: 0 });
    expect(a.length).toBe(2); // inline: nothing transferred
    await small.close();
    await expect(small.f32Gemm(a, a, 1, 1, 2)).rejects.toMatchObject({ code: 'E_CLOSED' });
  });

  it('destroy() rejects a running task', async () => {
    const p = createKernelPool({ threads: 1, inlineBelowFlops: 0 });
    const k = 1024;
    const run = p.f32Gemm(ramp(64 * k, 1), ramp(64 * k, 2), 64, 64, k).then(() => 'resolved', (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await p.destroy();
    expect(await run).toBeInstanceOf(Error);
  });
});

describe('kernel pool from a compiled build (dist layout)', () => {
  it('loads dist/kernels/kernel-worker.js without tsx', () => {
    const out = mkdtempSync(join(tmpdir(), 'km-dist-'));
    try {
      // Build into a temp dir (never the shared dist/); link node_modules so 'piscina' resolves.
      execFileSync(process.execPath, [new URL('node_modules/typescript/bin/tsc', root).pathname, '-p', new URL('tsconfig.build.json', root).pathname, '--outDir', out, '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'], { stdio: 'pipe' }).toString();
    } catch {
      // Type errors elsewhere in the tree still emit JavaScript; the check below is what matters.
    }
    try {
      symlinkSync(new URL('node_modules', root).pathname, join(out, 'node_modules'));
      const script = `import { createKernelPool } from ${JSON.stringify(join(out, 'kernels/index.js'))};
        const pool = createKernelPool({ threads: 1, inlineBelowFlops: 0 });
        const c = await pool.f32Gemm(new Float32Array([1, 2]), new Float32Array([3, 4]), 1, 1, 2);
        console.log(JSON.stringify([...c]), pool.stats.offloaded);
        await pool.close();`;
      const res = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: out }).toString().trim();
      expect(res).toBe('[11] 1');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
