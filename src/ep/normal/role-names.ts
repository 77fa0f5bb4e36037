/**
 * @module
 * Task names of the kernels' roles, made once per role instance (channel, peer, warp) and reused by
 * every later operation: a name built per task and operation is a string per task (thousands per
 * kernel). One table per role; write `NAMES.get(key) ?? NAMES.set(key, \`...\`)`: the template runs
 * only the first time.
 */
export class RoleNames {
  private readonly byKey = new Map<number, string>();

  get(key: number): string | undefined {
    return this.byKey.get(key);
  }

  /** Remember `name` under `key`; returns it. */
  set(key: number, name: string): string {
    this.byKey.set(key, name);
    return name;
  }
}

/** One key from up to three small numbers (each < 4096). */
export function roleKey(a: number, b = 0, c = 0): number {
  return (a * 4096 + b) * 4096 + c;
}
