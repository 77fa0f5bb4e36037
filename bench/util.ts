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
