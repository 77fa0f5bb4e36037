/**
 * @module
 * `expertmesh hardware show NAME|path.json [--json]`: a hardware profile as it resolves (a file may
 * extend a built-in), every value with its source, and what was noticed (unknown fields, values
 * without a source).
 */
import { resolveHardware, type ResolvedHardware } from '../hardware/profile-file.js';
import { hardwareField, HARDWARE_FIELDS } from '../hardware/profile.js';
import type { CliIo, Command, ParsedArgs } from './command.js';

export function formatHardware(h: ResolvedHardware): string {
  const rows = [['field', 'value', 'source'], ...HARDWARE_FIELDS.map((f) => [f, String(hardwareField(h.profile, f)), h.sources[f]])];
  const w0 = Math.max(...rows.map((r) => r[0]!.length));
  const w1 = Math.max(...rows.map((r) => r[1]!.length));
  return [
    `${h.profile.name} (${h.origin}${h.extends ? `, extends ${h.extends}` : ''})`,
    '',
    ...rows.map(([f, v, s]) => `${f!.padEnd(w0)}  ${v!.padStart(w1)}  ${s}`),
    ...(h.notes.length ? ['', ...h.notes.map((n) => `note: ${n}`)] : []),
    '',
  ].join('\n');
}

export const hardwareShowCommand: Command = {
  name: 'hardware show',
  summary: 'Print a hardware profile (built-in name or JSON file) with the source of every value.',
  args: '<NAME|profile.json>',
  minPositionals: 1,
  maxPositionals: 1,
  options: {
    json: { type: 'boolean', help: 'print one JSON object (schemaVersion, profile, sources, origin, notes) and nothing else' },
  },
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const h = resolveHardware(args.positionals[0]!, 'hardware show');
    for (const n of h.notes) io.stderr.write(`expertmesh hardware show: note: ${n}\n`);
    io.stdout.write(args.values['json'] ? `${JSON.stringify({ schemaVersion: 1, ...h })}\n` : formatHardware(h));
    return 0;
  },
};
