import { describe, expect, it } from 'vitest';
import { DEEPSEEK_V3, gate, gateFromLogits, gateLogits, validateGateConfig, type GateConfig } from '../../../src/index.js';
import { expectError } from './expect-error.js';

const cfg: GateConfig = { scoreFunc: 'sigmoid', numExperts: 8, topk: 2, numGroups: 4, topkGroups: 2, routeScale: 1 };
const x = new Float32Array(2 * 3);
const w = new Float32Array(8 * 3);

describe('bad input: a typed error naming the value, never a silently wrong routing', () => {
  it('mismatched lengths (E_ARGUMENT)', () => {
    expectError(() => gate(new Float32Array(5), w, null, 2, 3, cfg), 'E_ARGUMENT', 'x has length 5', 'expected 6');
    expectError(() => gate(x, new Float32Array(23), null, 2, 3, cfg), 'E_ARGUMENT', 'weight has length 23', 'expected 24');
    expectError(() => gate(x, w, new Float64Array(7), 2, 3, cfg), 'E_ARGUMENT', 'bias has length 7', 'expected 8');
    expectError(() => gateFromLogits(new Float64Array(15), null, 2, cfg), 'E_ARGUMENT', 'logits has length 15', 'expected 16');
    expectError(() => gateLogits(x, w, 2, 0, 8), 'E_ARGUMENT', 'hidden', '0');
    expectError(() => gate(x, w, null, -1, 3, cfg), 'E_ARGUMENT', 'tokens', '-1');
  });

  it('topk larger than the group limit allows (E_ROUTING)', () => {
    const data = expectError(() => gate(x, w, null, 2, 3, { ...cfg, topk: 5 }), 'E_ROUTING', 'config.topk 5', '4 experts');
    expect(data).toMatchObject({ argument: 'config.topk', value: 5, allowed: 4 });
    expectError(() => validateGateConfig({ ...DEEPSEEK_V3, topk: 129 }), 'E_ROUTING', 'config.topk 129', '128');
  });

  it('malformed configs (E_ARGUMENT)', () => {
    expectError(() => validateGateConfig({ ...cfg, numGroups: 3 }), 'E_ARGUMENT', 'config.numGroups 3', 'numExperts 8');
    expectError(() => validateGateConfig({ ...cfg, topkGroups: 5 }), 'E_ARGUMENT', 'config.topkGroups', '5');
    expectError(() => validateGateConfig({ ...cfg, topk: 0 }), 'E_ARGUMENT', 'config.topk', '0');
    expectError(() => validateGateConfig({ ...cfg, scoreFunc: 'relu' as 'sigmoid' }), 'E_ARGUMENT', 'config.scoreFunc', 'relu');
    expectError(() => validateGateConfig({ ...cfg, routeScale: Infinity }), 'E_NUMERIC', 'config.routeScale', 'Infinity');
    expectError(() => validateGateConfig({ ...cfg, routeScale: -1 }), 'E_ARGUMENT', 'config.routeScale', '-1');
    // a biased group score needs two experts per group
    expectError(() => gateFromLogits(new Float64Array(8), new Float64Array(8), 1, { ...cfg, numGroups: 8, topkGroups: 2 }), 'E_ROUTING', 'config.numGroups 8');
  });

  it('NaN or infinite scores (E_NUMERIC), naming token and expert', () => {
    const bad = new Float32Array(x);
    bad[4] = NaN; // token 1
    const data = expectError(() => gate(bad, new Float32Array(w.length).fill(1), null, 2, 3, cfg), 'E_NUMERIC', 'token 1', 'expert 0', 'NaN');
    expect(data).toMatchObject({ token: 1, expert: 0 });
    const inf = new Float32Array(w);
    inf[3 * 5] = Infinity; // expert 5, with x = 1 everywhere
    expectError(() => gate(new Float32Array(6).fill(1), inf, null, 2, 3, cfg), 'E_NUMERIC', 'token 0', 'expert 5', 'Infinity');
    expectError(() => gateFromLogits(new Float64Array(8), new Float64Array([0, 0, 0, -Infinity, 0, 0, 0, 0]), 1, cfg), 'E_NUMERIC', 'bias[3]', '-Infinity');
  });

  it('sigmoid scores that underflow to zero cannot be normalised (E_NUMERIC)', () => {
    expectError(() => gateFromLogits(new Float64Array(8).fill(-800), null, 1, cfg), 'E_NUMERIC', 'token 0', 'sum to 0');
  });
});
