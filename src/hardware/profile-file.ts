/**
 * @module
 * Hardware profiles from files (or inline objects): `{ "extends": "H100", "name": "H100-RoCE200",
 * "ibGBps": 25 }`. A field is a number, or `{ "value": n, "source": "..." }`; a `sources` object may
 * also name the source of any field. Every resolved field carries its source: the built-in's
 * citation when inherited, the file's when given. Unknown fields and new values without a source
 * are allowed and reported in `notes`; a non-positive value is refused naming the field.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { fail, showValue } from '../errors.js';
import { readJsonFile } from '../json-file.js';
import {
  builtInHardwareSources, getHardwareProfile, hardwareField, hardwareProfileNames, validateHardwareProfile, HARDWARE_FIELDS,
  type HardwareField, type HardwareProfile, type HardwareSources,
} from './profile.js';

/** A profile with the source of every value and what was noticed while resolving it. */
export interface ResolvedHardware {
  profile: HardwareProfile;
  sources: HardwareSources;
  /** `built-in`, the file path, or `inline`. */
  origin: string;
  /** The profile it extends (name or path), if any. */
  extends?: string;
  /** Unknown fields ignored, values given without a source. */
  notes: string[];
}

const valueSchema = z.union([z.number(), z.object({ value: z.number(), source: z.string().min(1).optional() }).strict()]);
const fileSchema = z
  .object({
    name: z.string().min(1).optional(),
    extends: z.string().min(1).optional(),
    sources: z.record(z.string()).optional(),
    peakTflops: z.record(valueSchema).optional(),
  })
  .catchall(z.unknown());

/** A hardware spec: a built-in name, a path to a JSON profile file, or an inline profile object. */
export type HardwareSpec = string | Record<string, unknown>;

/** True when `spec` names a built-in profile (case-insensitive). */
export function isBuiltInHardware(spec: string): boolean {
  return hardwareProfileNames().includes(spec.toUpperCase());
}

/**
 * Resolve a hardware spec to a profile with per-field sources.
 * @param where names the spec's origin in messages (an option, a scenario field).
 * @param baseDir directory relative paths are resolved against (default: the working directory).
 * @throws ExpertmeshError `E_CONFIG` naming the file, the field and the bad value.
 */
export function resolveHardware(spec: HardwareSpec, where = 'hardware', baseDir = process.cwd(), depth = 0): ResolvedHardware {
  if (typeof where !== 'string') fail('E_CONFIG', `resolveHardware: where must be a string naming the spec's origin, got ${showValue(where)}`, { argument: 'where' });
  if (typeof baseDir !== 'string') fail('E_CONFIG', `${where}: baseDir must be a directory path, got ${showValue(baseDir)}`, { where, argument: 'baseDir' });
  if (depth > 8) fail('E_CONFIG', `${where}: 'extends' chain is deeper than 8 (a cycle?)`, { where });
  if (typeof spec === 'string') {
    if (isBuiltInHardware(spec)) {
      const profile = getHardwareProfile(spec);
      return { profile, sources: { ...builtInHardwareSources(spec) }, origin: 'built-in', notes: [] };
    }
    if (!/\.json$/i.test(spec) && !spec.includes('/'))
      fail('E_CONFIG', `${where}: unknown hardware profile '${spec}'; known: ${hardwareProfileNames().join(', ')}, or a path to a .json profile file`, { where, value: spec });
    const path = resolve(baseDir, spec);
    // Unreadable and not JSON read alike: the profile cannot be read.
    const cannot = (why: string) => `${where}: cannot read hardware profile ${spec}: ${why}`;
    const json = readJsonFile(path, { code: 'E_CONFIG', what: 'hardware profile', unreadable: cannot, notJson: cannot, data: { where } });
    if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('E_CONFIG', `${where}: ${spec} must hold a JSON object`, { where, path });
    return fromObject(json as Record<string, unknown>, spec, dirname(path), depth);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) fail('E_CONFIG', `${where}: a hardware profile is a name, a path or an object, got ${showValue(spec)}`, { where });
  return fromObject(spec, where === 'hardware' ? 'inline' : where, baseDir, depth);
}

function fromObject(obj: Record<string, unknown>, origin: string, baseDir: string, depth: number): ResolvedHardware {
  const r = fileSchema.safeParse(obj);
  if (!r.success) {
    const i = r.error.issues[0]!;
    fail('E_CONFIG', `${origin}: ${i.path.join('.') || '(root)'}: ${i.message}`, { where: origin, field: i.path.join('.') });
  }
  const f = r.data;
  const notes: string[] = [];
  let base: ResolvedHardware | null = null;
  if (f.extends !== undefined) base = resolveHardware(f.extends, `${origin}: extends`, baseDir, depth + 1);
  const given = new Map<HardwareField, { value: number; source?: string | undefined }>();
  const take = (field: string, v: unknown) => {
    const p = valueSchema.safeParse(v);
    if (!p.success) fail('E_CONFIG', `${origin}: ${field} must be a number or { "value": number, "source": string }, got ${showValue(v)}`, { where: origin, field, value: v });
    const val = typeof p.data === 'number' ? { value: p.data } : p.data;
    if (!Number.isFinite(val.value) || val.value <= 0) fail('E_CONFIG', `${origin}: ${field} must be a positive finite number, got ${val.value}`, { where: origin, field, value: val.value });
    given.set(field as HardwareField, val);
  };
  const known = new Set<string>(HARDWARE_FIELDS);
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'name' || k === 'extends' || k === 'sources') continue;
    if (k === 'peakTflops') {
      for (const [pk, pv] of Object.entries(f.peakTflops ?? {})) {
        if (known.has(`peakTflops.${pk}`)) take(`peakTflops.${pk}`, pv);
        else notes.push(`unknown field 'peakTflops.${pk}' ignored`);
      }
      continue;
    }
    if (known.has(k)) take(k, v);
    else notes.push(`unknown field '${k}' ignored (known: name, extends, sources, ${HARDWARE_FIELDS.join(', ')})`);
  }
  for (const k of Object.keys(f.sources ?? {})) if (!known.has(k)) notes.push(`sources.${k}: unknown field ignored`);
  const missing = base ? [] : HARDWARE_FIELDS.filter((k) => !given.has(k));
  if (missing.length > 0)
    fail('E_CONFIG', `${origin}: a profile without 'extends' must give every field; missing: ${missing.join(', ')}`, { where: origin, field: missing[0], missing });
  const value = (k: HardwareField) => given.get(k)?.value ?? hardwareField(base!.profile, k);
  const profile: HardwareProfile = {
    name: f.name ?? (base ? `${base.profile.name}*` : origin),
    smCount: value('smCount'), hbmBytes: value('hbmBytes'), hbmGBps: value('hbmGBps'), nvlinkGBps: value('nvlinkGBps'),
    nvlinkLatencyUs: value('nvlinkLatencyUs'), ibGBps: value('ibGBps'), ibLatencyUs: value('ibLatencyUs'),
    peakTflops: { fp8: value('peakTflops.fp8'), bf16: value('peakTflops.bf16'), fp32: value('peakTflops.fp32') },
    kernelLaunchUs: value('kernelLaunchUs'), smBytesInFlightPerWarp: value('smBytesInFlightPerWarp'), hbmLatencyUs: value('hbmLatencyUs'),
    smIssueGBps: value('smIssueGBps'), smHbmReadGBps: value('smHbmReadGBps'), smHbmWriteGBps: value('smHbmWriteGBps'), smReduceGBps: value('smReduceGBps'),
    nvlinkMessageUs: value('nvlinkMessageUs'), ibMessageUs: value('ibMessageUs'), hostSyncUs: value('hostSyncUs'),
    ibQpGBps: value('ibQpGBps'), ibDoorbellUs: value('ibDoorbellUs'),
  };
  validateHardwareProfile(profile, origin);
  const sources = {} as HardwareSources;
  for (const k of HARDWARE_FIELDS) {
    const g = given.get(k);
    const src = g?.source ?? f.sources?.[k];
    if (g && !src) notes.push(`${k}: value ${g.value} given without a source`);
    sources[k] = src ?? (g ? `${origin} (no source given)` : `${base!.sources[k]} (from ${base!.profile.name})`);
  }
  return { profile, sources, origin, ...(f.extends !== undefined ? { extends: f.extends } : {}), notes };
}

/** The profile of a spec (sources and notes dropped). */
export function loadHardwareProfile(spec: HardwareSpec, where?: string, baseDir?: string): HardwareProfile {
  return resolveHardware(spec, where, baseDir).profile;
}
