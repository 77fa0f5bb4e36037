/**
 * @module
 * `loadScenario`: read, validate and default a scenario. Every error is one line naming the field
 * path, the bad value and what is allowed, thrown as `E_SCENARIO`.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { isBuiltInHardware } from '../hardware/profile-file.js';
import { z } from 'zod';
import { fail, showValue } from '../errors.js';
import { readJsonFile } from '../json-file.js';
import { scenarioSchema, type Scenario } from './schema.js';
import { checkScenario } from './check.js';

/** Render a value for an error message (short). */
export function show(v: unknown): string {
  return v === undefined ? 'nothing' : showValue(v);
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let v = root;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<string | number, unknown>)[k] : undefined;
  return v;
}

/** The object schema at `path`, unwrapping defaults and optionals (for the list of allowed keys). */
function shapeAt(path: readonly (string | number)[]): string[] {
  let s: z.ZodTypeAny = scenarioSchema;
  const unwrap = (t: z.ZodTypeAny): z.ZodTypeAny => {
    for (;;) {
      if (t instanceof z.ZodDefault) t = t._def.innerType;
      else if (t instanceof z.ZodOptional) t = t._def.innerType;
      else if (t instanceof z.ZodEffects) t = t._def.schema;
      else return t;
    }
  };
  for (const k of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodTypeAny>)[String(k)] ?? s;
    else if (s instanceof z.ZodArray) s = s.element;
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
}

const where = (path: readonly (string | number)[]) => (path.length === 0 ? '(top level)' : path.join('.'));

/** One issue as `path: got X; allowed: Y`. */
export function describeIssue(issue: z.ZodIssue, input: unknown): string {
  const p = issue.path;
  const got = show(valueAt(input, p));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = shapeAt(p);
      const name = issue.keys.map((k) => (p.length ? `${where(p)}.${k}` : k)).join(', ');
      return `unknown field ${name}; allowed fields${p.length ? ` of ${where(p)}` : ''}: ${allowed.join(', ')}`;
    }
    case 'invalid_type':
      return issue.received === 'undefined'
        ? `${where(p)} is required (${issue.expected})`
        : `${where(p)}: got ${got} (${issue.received}); allowed: ${issue.expected === 'integer' ? 'an integer' : `a ${issue.expected}`}`;
    case 'invalid_enum_value':
      return `${where(p)}: got ${got}; allowed: ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
    case 'too_small': {
      const what = issue.type === 'string' ? `a string of at least ${issue.minimum as number} characters` : issue.type === 'array' ? `at least ${issue.minimum as number} items` : `${issue.inclusive ? '>=' : '>'} ${issue.minimum as number}`;
      return `${where(p)}: got ${got}; allowed: ${what}`;
    }
    case 'too_big': {
      const what = issue.type === 'string' ? `at most ${issue.maximum as number} characters` : issue.type === 'array' ? `at most ${issue.maximum as number} items` : `${issue.inclusive ? '<=' : '<'} ${issue.maximum as number}`;
      return `${where(p)}: got ${got}; allowed: ${what}`;
    }
    case 'not_finite':
      return `${where(p)}: got ${got}; allowed: a finite number`;
    default:
      return `${where(p)}: got ${got}; ${issue.message}`;
  }
}

/**
 * Validate a scenario object and fill in defaults.
 * @throws ExpertmeshError `E_SCENARIO` with a one-line message naming the field, the value and what is allowed.
 * @example
 * const s = parseScenario({ cluster: { nodes: 1, gpusPerNode: 8 }, model: { tokensPerRank: 64 } });
 */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  if (typeof source !== 'string') fail('E_ARGUMENT', `parseScenario: source must be a string naming where the scenario came from, got ${showValue(source)}`, { argument: 'source' });
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    fail('E_SCENARIO', `${source}: a scenario must be a JSON object, got ${show(input)}`, { source });
  const r = scenarioSchema.safeParse(input);
  if (!r.success) {
    // An unknown field usually explains the rest (a misspelt name also leaves its field missing).
    const issues = [...r.error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
    const issue = issues[0]!;
    const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more)` : '';
    fail('E_SCENARIO', `${source}: ${describeIssue(issue, input)}${more}`, {
      source, field: where(issue.path), value: valueAt(input, issue.path),
      issues: issues.map((i) => describeIssue(i, input)),
    });
  }
  checkScenario(r.data, source);
  return r.data;
}

/**
 * Load a scenario from a JSON file path or a plain object; returns it validated with defaults.
 * @throws ExpertmeshError `E_SCENARIO` (unreadable file, bad JSON, invalid field).
 * @example
 * const s = loadScenario('examples/prefill-ep32.json');
 * const t = loadScenario({ cluster: { nodes: 1, gpusPerNode: 4 }, model: { numExperts: 16, numGroups: 4, topkGroups: 2, topk: 4 } });
 */
export function loadScenario(source: string | object): Scenario {
  if (typeof source !== 'string') return parseScenario(source);
  const json = readJsonFile(source, {
    code: 'E_SCENARIO',
    what: 'scenario file',
    unreadable: (why) => `cannot read scenario file ${source}: ${why}`,
    notJson: (why) => `${source} is not valid JSON: ${why}`,
    data: { source },
  });
  // A hardware profile file is named relative to the scenario file.
  const cl = (json as { cluster?: { hardware?: unknown } } | null)?.cluster;
  if (cl && typeof cl.hardware === 'string' && !isBuiltInHardware(cl.hardware) && !isAbsolute(cl.hardware)) cl.hardware = resolve(dirname(source), cl.hardware);
  return parseScenario(json, source);
}
