/**
 * @module
 * Dinic's maximum flow on small integer networks. Internal: used to solve the min-max replica
 * assignment exactly.
 */

/** A flow network with integer capacities. @internal */
export class FlowNetwork {
  private readonly head: Int32Array;
  private to: number[] = [];
  private next: number[] = [];
  /** Residual capacity per edge; edge `e ^ 1` is its reverse. */
  cap: number[] = [];
  private level: Int32Array;
  private iter: Int32Array;

  constructor(readonly size: number) {
    this.head = new Int32Array(size).fill(-1);
    this.level = new Int32Array(size);
    this.iter = new Int32Array(size);
  }

  /** Add an edge and return its id (its flow is `cap[id ^ 1]`). */
  addEdge(from: number, to: number, capacity: number): number {
    const id = this.to.length;
    this.to.push(to, from);
    this.cap.push(capacity, 0);
    this.next.push(this.head[from]!, this.head[to]!);
    this.head[from] = id;
    this.head[to] = id + 1;
    return id;
  }

  private bfs(s: number, t: number): boolean {
    this.level.fill(-1);
    const queue = new Int32Array(this.size);
    let qh = 0;
    let qt = 0;
    queue[qt++] = s;
    this.level[s] = 0;
    while (qh < qt) {
      const v = queue[qh++]!;
      for (let e = this.head[v]!; e >= 0; e = this.next[e]!) {
        const w = this.to[e]!;
        if (this.cap[e]! > 0 && this.level[w]! < 0) {
          this.level[w] = this.level[v]! + 1;
          queue[qt++] = w;
        }
      }
    }
    return this.level[t]! >= 0;
  }

  private dfs(v: number, t: number, f: number): number {
    if (v === t) return f;
    for (; this.iter[v]! >= 0; this.iter[v] = this.next[this.iter[v]!]!) {
      const e = this.iter[v]!;
      const w = this.to[e]!;
      if (this.cap[e]! > 0 && this.level[w] === this.level[v]! + 1) {
        const d = this.dfs(w, t, Math.min(f, this.cap[e]!));
        if (d > 0) {
          this.cap[e]! -= d;
          this.cap[e ^ 1]! += d;
          return d;
        }
      }
    }
    return 0;
  }

  /** Push the maximum flow from `s` to `t` and return its value. */
  maxFlow(s: number, t: number): number {
    let total = 0;
    while (this.bfs(s, t)) {
      this.iter.set(this.head);
      for (let f = this.dfs(s, t, Infinity); f > 0; f = this.dfs(s, t, Infinity)) total += f;
    }
    return total;
  }
}
