import { describe, expect, it } from 'vitest';
import { HeapSampler, summarize } from '../../../src/actors/heap-sampler.js';
import { ExpertmeshError } from '../../../src/errors.js';

/**
 * Allocates `n` arrays of 1000 small integers (8 kB each: 8 MB for 1000), kept until it returns
 * (escaping, so the compiler cannot leave them out) and garbage after.
 */
function allocateGarbageForTheSampler(n: number): number {
  const keep: number[][] = [];
  for (let i = 0; i < n; i++) keep.push(new Array<number>(1000).fill(i));
  return keep.length;
}

const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });

describe('HeapSampler', () => {
  it("samples this thread's allocations between start and stop, objects already collected included, by site", () => {
    const s = new HeapSampler(64, 5);
    s.start();
    allocateGarbageForTheSampler(1000);
    const p = s.stop();
    expect(p.intervalBytes).toBe(64);
    // 1000 x 8 kB, sampled (an estimate): about 8 MB.
    expect(p.sampledBytes).toBeGreaterThan(7e6);
    expect(p.sampledBytes).toBeLessThan(10e6);
    expect(p.sites.length).toBeLessThanOrEqual(5);
    const site = p.sites.find((x) => x.functionName === 'allocateGarbageForTheSampler');
    expect(site, JSON.stringify(p.sites)).toBeDefined();
    expect(site!.url).toMatch(/heap-sampler\.test\.ts$/);
    expect(site!.line).toBeGreaterThan(0);
    expect(site!.selfBytes).toBeGreaterThan(0.8 * p.sampledBytes);
  });

  it('a second run counts its own allocations only', () => {
    const s = new HeapSampler(64, 5);
    s.start();
    allocateGarbageForTheSampler(1000);
    const big = s.stop().sampledBytes;
    s.start();
    const small = s.stop().sampledBytes;
    expect(small).toBeLessThan(big / 100);
  });

  it('stop before start: E_WORKER', () => {
    const s = new HeapSampler(64, 5);
    expect(() => s.stop()).toThrow(ExpertmeshError);
    try {
      s.stop();
    } catch (e) {
      expect((e as ExpertmeshError).code).toBe('E_WORKER');
    }
  });
});

describe('summarize', () => {
  it("adds up every node's self size, merges one function's nodes (1-based lines), V8's own by caller, largest first, at most topSites", () => {
    const head = {
      callFrame: frame('(root)', '', -1), selfSize: 0, children: [
        { callFrame: frame('encode', 'file:///d/packets.js', 9), selfSize: 100, children: [
          { callFrame: frame('subarray', '', -1), selfSize: 40, children: [] },
        ] },
        { callFrame: frame('land', 'file:///d/engine.js', 199), selfSize: 30, children: [
          { callFrame: frame('encode', 'file:///d/packets.js', 9), selfSize: 50, children: [] },
        ] },
        { callFrame: frame('', 'file:///d/x.js', 0), selfSize: 10, children: [] },
        // At the root: no caller with a script.
        { callFrame: frame('(GC)', '', -1), selfSize: 5, children: [] },
      ],
    };
    const p = summarize(head, 32, 3);
    expect(p).toEqual({
      intervalBytes: 32,
      sampledBytes: 235,
      sites: [
        { functionName: 'encode', url: 'file:///d/packets.js', line: 10, selfBytes: 150 },
        { functionName: 'subarray', url: '', line: 0, selfBytes: 40, calledFrom: 'encode file:///d/packets.js:10' },
        { functionName: 'land', url: 'file:///d/engine.js', line: 200, selfBytes: 30 },
      ],
    });
    expect(summarize(head, 32, 10).sites.slice(3)).toEqual([
      { functionName: '(anonymous)', url: 'file:///d/x.js', line: 1, selfBytes: 10 },
      { functionName: '(GC)', url: '', line: 0, selfBytes: 5 },
    ]);
  });
});
