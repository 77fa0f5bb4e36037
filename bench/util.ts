/** Shared helpers for bench modules: timing, medians, and a fixed table format. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Median of `trials` timings (ms) of `fn` after one warm-up call. */
export async function medianMs(trials: number, fn: () => unknown | Promise<unknown>): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < trials; i++) {
    const s = nowMs();
    await fn();
    t.push(nowMs() - s);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1] ?? 0;
}

/** Print rows as an aligned table. */
export function table(rows: Array<Record<string, string | number>>): void {
  if (rows.length === 0) return;
  const keys = Object.keys(rows[0]!);
  const fmt = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => fmt(r[k] ?? '').length)));
  console.log(keys.map((k, i) => k.padEnd(widths[i]!)).join('  '));
  for (const r of rows) console.log(keys.map((k, i) => fmt(r[k] ?? '').padEnd(widths[i]!)).join('  '));
}

/** A bare binary min-heap over typed arrays keyed (time, seq): push/pop events like a scheduler. */
export function bareHeapEventsPerSec(events: number): number {
  const cap = 1 << 16;
  const T = new Float64Array(cap), S = new Float64Array(cap);
  let n = 0, seq = 0, x = 12345;
  const push = (t: number) => {
    let i = n++;
    const s = seq++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (T[p]! < t || (T[p] === t && S[p]! < s)) break;
      T[i] = T[p]!; S[i] = S[p]!; i = p;
    }
    T[i] = t; S[i] = s;
  };
  const pop = (): number => {
    const top = T[0]!;
    const last = --n, t = T[last]!, s = S[last]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && (T[c + 1]! < T[c]! || (T[c + 1] === T[c] && S[c + 1]! < S[c]!))) c++;
      if (t < T[c]! || (t === T[c] && s < S[c]!)) break;
      T[i] = T[c]!; S[i] = S[c]!; i = c;
    }
    T[i] = t; S[i] = s;
    return top;
  };
  const run = () => {
    n = 0;
    for (let i = 0; i < 4096; i++) push(i * 0.01);
    for (let i = 0; i < events; i++) {
      const t = pop();
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      push(t + (x & 1023) * 0.001);
    }
  };
  run();
  const s = nowMs();
  run();
  return events / ((nowMs() - s) / 1e3);
}


/**
 * Speed of `fn` relative to `baseline`, measured in alternating pairs so both see the same machine
 * load: the median over `trials` pairs of baselineMs / fnMs (after one warm-up of each).
 */
export async function pairedRatio(trials: number, baseline: () => unknown, fn: () => unknown | Promise<unknown>): Promise<{ ratio: number; baselineMs: number; fnMs: number }> {
  baseline();
  await fn();
  const ratios: number[] = [], bs: number[] = [], fs: number[] = [];
  for (let i = 0; i < trials; i++) {
    let s = nowMs();
    baseline();
    const b = nowMs() - s;
    s = nowMs();
    await fn();
    const f = nowMs() - s;
    ratios.push(b / f);
    bs.push(b);
    fs.push(f);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  return { ratio: med(ratios), baselineMs: med(bs), fnMs: med(fs) };
}
