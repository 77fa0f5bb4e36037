import { describe, expect, it } from 'vitest';
import { H800 } from '../../../src/hardware/profile.js';
import { layerComputeUs, mlaDecodeAttentionUs, mlaPrefillAttentionUs } from '../../../src/kernels/index.js';

describe('MLA core attention', () => {
  it('decode grows linearly with context, at the HBM rate over the compressed cache', () => {
    const t = [1000, 2000, 3000, 8000].map((contextLen) => mlaDecodeAttentionUs(H800, { tokens: 128, contextLen }));
    expect(t[2]! - t[1]!).toBeCloseTo(t[1]! - t[0]!, 6);
    expect((t[3]! - t[0]!) / 7).toBeCloseTo(t[1]! - t[0]!, 6);
    // 1000 more cached tokens x 128 requests x 576 BF16 values, at 3350 GB/s x 0.884
    expect(t[1]! - t[0]!).toBeCloseTo((1000 * 128 * 576 * 2) / (3350 * 0.884 * 1e3), 6);
  });

  it('prefill is causal: a 4K prompt costs about twice two 2K prompts, and stays under the tensor peak', () => {
    const one = mlaPrefillAttentionUs(H800, { tokens: 4096, promptLen: 4096 });
    const two = mlaPrefillAttentionUs(H800, { tokens: 4096, promptLen: 2048 });
    expect(one / two).toBeGreaterThan(1.8);
    expect(one / two).toBeLessThan(2.1);
    // causal flops: 128 heads x (4096^2 / 2) query-key pairs x 2 x (192 + 128)
    const flops = 128 * (4096 * 4096 / 2) * 2 * (192 + 128);
    expect(flops / one / 1e6).toBeLessThan(989 * 0.86);
    expect(flops / one / 1e6).toBeGreaterThan(989 * 0.6);
  });

  it('zero tokens cost nothing', () => {
    expect(mlaPrefillAttentionUs(H800, { tokens: 0, promptLen: 4096 })).toBe(0);
    expect(mlaDecodeAttentionUs(H800, { tokens: 0, contextLen: 4096 })).toBe(0);
  });
});

describe('layerComputeUs', () => {
  it('lists the kernels of a prefill MoE layer, a decode MoE layer and a dense layer', () => {
    const names = (o: Parameters<typeof layerComputeUs>[1]) => layerComputeUs(H800, o).kernels.map((k) => k.name);
    expect(names({ phase: 'prefill', tokens: 512 })).toEqual([
      'attn_norm', 'q_a+kv_a proj', 'q_a+kv_a norm', 'q_b proj', 'kv_b proj', 'core attention (prefill)', 'o proj', 'attn residual',
      'ffn_norm', 'gate', 'shared up/gate', 'shared SwiGLU', 'shared down', 'experts up/gate', 'experts SwiGLU', 'experts down', 'ffn residual',
    ]);
    expect(names({ phase: 'decode', tokens: 64, contextLen: 4989 }).slice(4, 7)).toEqual(['q absorb (W_UK)', 'core attention (decode)', 'v absorb (W_UV)']);
    expect(names({ phase: 'prefill', tokens: 512, layer: 'dense' }).slice(8)).toEqual(['ffn_norm', 'dense up/gate', 'dense SwiGLU', 'dense down', 'ffn residual']);
  });

  it('totals and kinds add up; fewer SMs cost more; the routed load changes the expert GEMMs', () => {
    const all = layerComputeUs(H800, { phase: 'prefill', tokens: 4096, contextLen: 4096 });
    expect(Object.values(all.byKind).reduce((a, b) => a + b, 0)).toBeCloseTo(all.totalUs, 6);
    expect(all.kernels.reduce((a, k) => a + k.us, 0)).toBeCloseTo(all.totalUs, 6);
    expect(layerComputeUs(H800, { phase: 'prefill', tokens: 4096, contextLen: 4096, sms: 112 }).totalUs).toBeGreaterThan(all.totalUs);
    // the same 32768 routed rows: two hot experts fill whole tiles as the balanced load does (same time);
    // one hot expert and seven with a token each add seven partial tiles and seven weight reads
    const two = layerComputeUs(H800, { phase: 'prefill', tokens: 4096, contextLen: 4096, expertTokens: [4096 * 4, 4096 * 4, 0, 0, 0, 0, 0, 0] });
    expect(two.byKind['grouped-gemm']).toBeCloseTo(all.byKind['grouped-gemm'], 6);
    const hot = layerComputeUs(H800, { phase: 'prefill', tokens: 4096, contextLen: 4096, expertTokens: [4096 * 8 - 7, 1, 1, 1, 1, 1, 1, 1] });
    expect(hot.byKind['grouped-gemm']).toBeGreaterThan(all.byKind['grouped-gemm'] + 10);
    expect(hot.byKind.attention).toBe(all.byKind.attention);
  });

  it('zero tokens cost nothing', () => {
    for (const phase of ['prefill', 'decode'] as const)
      for (const layer of ['moe', 'dense'] as const) expect(layerComputeUs(H800, { phase, layer, tokens: 0, contextLen: 4096 }).totalUs).toBe(0);
  });

  it('rejects a bad phase, layer, token count and a decode without context', () => {
    expect(() => layerComputeUs(H800, { phase: 'train' as 'prefill', tokens: 1 })).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', data: expect.objectContaining({ argument: 'phase' }) }));
    expect(() => layerComputeUs(H800, { phase: 'prefill', tokens: 1, layer: 'mlp' as 'moe' })).toThrow(/layer must be/);
    expect(() => layerComputeUs(H800, { phase: 'prefill', tokens: -1 })).toThrow(/tokens must be a non-negative integer/);
    expect(() => layerComputeUs(H800, { phase: 'decode', tokens: 1 })).toThrow(/contextLen is required/);
    expect(() => layerComputeUs(H800, { phase: 'prefill', tokens: 4, expertTokens: [1, 0.5] })).toThrow(/expertTokens\[1\]/);
  });
});
