/**
 * @module
 * Checks on raw command-line words before `parseArgs` sees them, so that every argument error names
 * the option and what it accepts: a negative number after a value option is that option's value
 * (parseArgs would call it "ambiguous"), and a value option followed by another option or by
 * nothing is reported as a missing value.
 */
import type { OptionSpec } from './command.js';
import { ExpertmeshError } from '../errors.js';

/** A word that reads as a (possibly negative) number, e.g. `-3`, `-0.5`, `-1e9`, `-Infinity`, `-NaN`. */
const NEGATIVE_NUMBER = /^-(\d|\.\d|Infinity$|NaN$)/;

/**
 * Rewrite `--name -3` (and `-n -3`) to `--name=-3` for value options; throws `E_ARGUMENT` naming the
 * option when a value option is followed by another option or by nothing.
 */
export function normalizeValueArgs(cmdName: string, options: Record<string, OptionSpec>, argv: readonly string[]): string[] {
  const byShort = new Map(Object.entries(options).filter(([, o]) => o.short).map(([k, o]) => [`-${o.short}`, k] as const));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : byShort.get(a as `-${string}`);
    const spec = name !== undefined ? options[name] : undefined;
    if (!spec || spec.type !== 'string') {
      out.push(a);
      continue;
    }
    const next = argv[i + 1];
    const accepts = `${spec.value ?? 'a value'}: ${spec.help}`;
    if (next === undefined)
      throw new ExpertmeshError('E_ARGUMENT', `${cmdName}: --${name} needs a value (${accepts})`, { option: name });
    if (next.startsWith('-') && !NEGATIVE_NUMBER.test(next))
      throw new ExpertmeshError('E_ARGUMENT', `${cmdName}: --${name} needs a value (${accepts}), got option '${next}'`, { option: name, value: next });
    out.push(`--${name}=${next}`);
    i++;
  }
  return out;
}
