/**
 * `npm run fuzz`: feed every parser FUZZ_RUNS fast-check inputs (default 1,000,000 each) and print
 * the counts. Exits 1 on the first crash or uncoded error, printing the counterexample and seed.
 * FUZZ_SEED fixes the seed; FUZZ_ONLY=<substring> runs matching targets only.
 */
import fc from 'fast-check';

// Stack traces are never printed here and capturing them dominates the cost of a rejected input.
Error.stackTraceLimit = 0;
import { FUZZ_TARGETS } from './targets.js';
import { runInput } from './check.js';

const runs = Number(process.env['FUZZ_RUNS'] ?? 1_000_000);
const seed = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : Date.now() % 2 ** 31;
const only = process.env['FUZZ_ONLY'];
let failed = false;
console.log(`fuzz: ${runs} inputs per target, seed ${seed}`);
for (const t of FUZZ_TARGETS) {
  if (only && !t.name.includes(only)) continue;
  const counts = new Map<string, number>();
  const t0 = performance.now();
  try {
    fc.assert(fc.property(t.arbitrary, (input) => {
      const r = runInput(t, input);
      counts.set(r, (counts.get(r) ?? 0) + 1);
    }), { numRuns: runs, seed, endOnFailure: true });
  } catch (e) {
    failed = true;
    console.log(`${t.name}: FAILED\n${(e as Error).message}\n${String((e as Error).cause ?? '')}`);
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const by = [...counts.entries()].sort().map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`${t.name}: ${total} inputs in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${by}; crashes 0, uncoded ${failed ? '>= 1' : 0}`);
}
process.exitCode = failed ? 1 : 0;
