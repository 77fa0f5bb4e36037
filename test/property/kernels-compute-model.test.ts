/**
 * The compute model's shape: time never falls when the work grows (m, n, k, any group's rows,
 * context) and never rises when the kernel is given more SMs, whatever tile configuration wins.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { H200, H800 } from '../../src/hardware/profile.js';
import { gemmTimeUs, groupedGemmTimeUs, layerComputeUs, mlaDecodeAttentionUs, mlaPrefillAttentionUs } from '../../src/kernels/index.js';

const fmt = fc.constantFrom('fp8' as const, 'bf16' as const);
const dim = fc.integer({ min: 1, max: 20000 });
const hw = fc.constantFrom(H800, H200);
const eps = 1e-9;

describe('compute model: monotone in the work and in the SMs given', () => {
  it('gemmTimeUs is non-decreasing in m, n and k', () => {
    fc.assert(fc.property(hw, fmt, dim, dim, dim, fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 0, max: 2 }), (p, format, m, n, k, extra, which) => {
      const base = { m, n, k, format };
      const more = { ...base, [(['m', 'n', 'k'] as const)[which]!]: base[(['m', 'n', 'k'] as const)[which]!] + extra };
      expect(gemmTimeUs(p, more)).toBeGreaterThanOrEqual(gemmTimeUs(p, base) - eps);
    }), { numRuns: 400 });
  });

  it('gemmTimeUs and groupedGemmTimeUs are non-increasing in the SMs given', () => {
    fc.assert(fc.property(fmt, fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }), dim, dim, fc.integer({ min: 1, max: 131 }), fc.integer({ min: 1, max: 131 }), (format, ms, n, k, a, b) => {
      const [few, many] = a <= b ? [a, b + 1] : [b, a + 1];
      expect(groupedGemmTimeUs(H800, { ms, n, k, format }, { sms: many })).toBeLessThanOrEqual(groupedGemmTimeUs(H800, { ms, n, k, format }, { sms: few }) + eps);
      expect(gemmTimeUs(H800, { m: ms[0]! + 1, n, k, format }, { sms: many })).toBeLessThanOrEqual(gemmTimeUs(H800, { m: ms[0]! + 1, n, k, format }, { sms: few }) + eps);
    }), { numRuns: 300 });
  });

  it('groupedGemmTimeUs is non-decreasing in any group\'s rows and in extra groups', () => {
    fc.assert(fc.property(fmt, fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }), fc.nat(), fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 0, max: 2000 }), (format, ms, at, extra, added) => {
      const more = [...ms];
      more[at % ms.length]! += extra;
      const shape = { n: 4096, k: 7168, format };
      const t = groupedGemmTimeUs(H800, { ms, ...shape });
      expect(groupedGemmTimeUs(H800, { ms: more, ...shape })).toBeGreaterThanOrEqual(t - eps);
      expect(groupedGemmTimeUs(H800, { ms: [...ms, added], ...shape })).toBeGreaterThanOrEqual(t - eps);
    }), { numRuns: 300 });
  });

  it('attention grows with tokens, prompt length and context, and falls with SMs', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8192 }), fc.integer({ min: 1, max: 8192 }), fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 1, max: 131 }), (tokens, ctx, extra, sms) => {
      expect(mlaPrefillAttentionUs(H800, { tokens: tokens + extra, promptLen: ctx })).toBeGreaterThanOrEqual(mlaPrefillAttentionUs(H800, { tokens, promptLen: ctx }) - eps);
      // the same number of prompts, each longer (at a fixed token count, longer prompts mean fewer tiles)
      const prompts = 1 + (tokens % 4);
      expect(mlaPrefillAttentionUs(H800, { tokens: prompts * (ctx + extra), promptLen: ctx + extra })).toBeGreaterThanOrEqual(mlaPrefillAttentionUs(H800, { tokens: prompts * ctx, promptLen: ctx }) - eps);
      expect(mlaPrefillAttentionUs(H800, { tokens, promptLen: ctx }, { sms: sms + 1 })).toBeLessThanOrEqual(mlaPrefillAttentionUs(H800, { tokens, promptLen: ctx }, { sms }) + eps);
      expect(mlaDecodeAttentionUs(H800, { tokens, contextLen: ctx + extra })).toBeGreaterThan(mlaDecodeAttentionUs(H800, { tokens, contextLen: ctx }));
    }), { numRuns: 200 });
  });

  it('a layer costs more with more tokens and less with more SMs', () => {
    fc.assert(fc.property(fc.constantFrom('prefill' as const, 'decode' as const), fc.constantFrom('moe' as const, 'dense' as const), fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 1, max: 1024 }), fc.integer({ min: 20, max: 131 }), (phase, layer, tokens, extra, sms) => {
      const o = { phase, layer, contextLen: 4096 };
      expect(layerComputeUs(H800, { ...o, tokens: tokens + extra }).totalUs).toBeGreaterThan(layerComputeUs(H800, { ...o, tokens }).totalUs);
      expect(layerComputeUs(H800, { ...o, tokens: tokens + extra, sms: sms + 1 }).totalUs).toBeLessThanOrEqual(layerComputeUs(H800, { ...o, tokens: tokens + extra, sms }).totalUs + eps);
    }), { numRuns: 60 });
  });
});
