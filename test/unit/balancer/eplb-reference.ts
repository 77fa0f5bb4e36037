/**
 * A literal, slow port of DeepSeek's eplb.py (balanced_packing, replicate_experts,
 * rebalance_experts_hierarchical, rebalance_experts) over whole matrices, written independently of
 * src/balancer to cross-check it. float32 like `weight.float()`: every stored value goes through
 * Math.fround, which equals float32 arithmetic for + and / of float32 operands.
 */
const f = Math.fround;

function balancedPacking(weight: number[][], numPacks: number): [number[][], number[][]] {
  const n = weight[0]!.length;
  const per = n / numPacks;
  if (per === 1) return [weight.map(() => [...Array(n).keys()]), weight.map(() => Array(n).fill(0))];
  const packIndex = weight.map(() => Array<number>(n).fill(-1));
  const rankInPack = weight.map(() => Array<number>(n).fill(-1));
  weight.forEach((row, i) => {
    const indices = [...Array(n).keys()].sort((a, b) => f(row[b]!) - f(row[a]!)); // stable, descending
    const packWeights = Array<number>(numPacks).fill(0);
    const packItems = Array<number>(numPacks).fill(0);
    for (const group of indices) {
      const candidates = [...Array(numPacks).keys()].filter((p) => packItems[p]! < per);
      const pack = candidates.reduce((a, b) => (packWeights[b]! < packWeights[a]! ? b : a)); // Python min(): first minimum
      packIndex[i]![group] = pack;
      rankInPack[i]![group] = packItems[pack]!;
      packWeights[pack] = f(packWeights[pack]! + f(row[group]!));
      packItems[pack]! += 1;
    }
  });
  return [packIndex, rankInPack];
}

function replicateExperts(weight: number[][], numPhy: number): [number[][], number[][], number[][]] {
  const numLog = weight[0]!.length;
  const phy2log = weight.map(() => [...Array(numPhy).keys()]);
  const rank = weight.map(() => Array<number>(numPhy).fill(0));
  const logcnt = weight.map(() => Array<number>(numLog).fill(1));
  for (let i = numLog; i < numPhy; i++) {
    weight.forEach((row, l) => {
      const ratio = row.map((w, e) => f(f(w) / logcnt[l]![e]!));
      const idx = ratio.indexOf(Math.max(...ratio)); // argmax: first index
      phy2log[l]![i] = idx;
      rank[l]![i] = logcnt[l]![idx]!;
      logcnt[l]![idx]! += 1;
    });
  }
  return [phy2log, rank, logcnt];
}

const inverse = (perm: number[][]): number[][] =>
  perm.map((row) => {
    const inv = Array<number>(row.length);
    row.forEach((p, i) => (inv[p] = i));
    return inv;
  });
const gather = (m: number[][], idx: number[][]): number[][] => idx.map((row, i) => row.map((j) => m[i]![j]!));

function hierarchical(weight: number[][], R: number, G: number, N: number, P: number): [number[][], number[][], number[][]] {
  const L = weight.length;
  const E = weight[0]!.length;
  const groupSize = E / G;
  const groupsPerNode = G / N;
  const perGpu = R / P;
  const tokensPerGroup = weight.map((row) => [...Array(G).keys()].map((g) => row.slice(g * groupSize, (g + 1) * groupSize).reduce((a, b) => f(a + f(b)), 0)));
  const [gpi, gri] = balancedPacking(tokensPerGroup, N);
  const log2mlog = gpi.map((row, l) => row.flatMap((p, g) => [...Array(groupSize).keys()].map((j) => (p * groupsPerNode + gri[l]![g]!) * groupSize + j)));
  const mlog2log = inverse(log2mlog);
  const tokensPerMlog = gather(weight, mlog2log).flatMap((row) => [...Array(N).keys()].map((n) => row.slice((n * E) / N, ((n + 1) * E) / N)));
  const [phy2mlog, phyrank, mlogcnt] = replicateExperts(tokensPerMlog, R / N);
  const tokensPerPhy = gather(tokensPerMlog.map((row, r) => row.map((w, i) => f(f(w) / mlogcnt[r]![i]!))), phy2mlog);
  const [pi, ri] = balancedPacking(tokensPerPhy, P / N);
  const pphy2phy = inverse(pi.map((row, r) => row.map((p, i) => p * perGpu + ri[r]![i]!)));
  const pphy2mlog = gather(phy2mlog, pphy2phy);
  const pphy2log: number[][] = [];
  const pphyrank: number[][] = [];
  const logcnt: number[][] = [];
  for (let l = 0; l < L; l++) {
    const rows = [...Array(N).keys()].map((n) => l * N + n);
    pphy2log.push(rows.flatMap((r, n) => pphy2mlog[r]!.map((m) => mlog2log[l]![m + (n * E) / N]!)));
    pphyrank.push(rows.flatMap((r) => pphy2phy[r]!.map((p) => phyrank[r]![p]!)));
    const flat = rows.flatMap((r) => mlogcnt[r]!);
    logcnt.push(log2mlog[l]!.map((m) => flat[m]!));
  }
  return [pphy2log, pphyrank, logcnt];
}

/** eplb.rebalance_experts, literally. */
export function referenceRebalance(weight: number[][], R: number, G: number, N: number, P: number) {
  const [phy2log, phyrank, logcnt] = G % N === 0 ? hierarchical(weight, R, G, N, P) : hierarchical(weight, R, 1, 1, P);
  const maxcnt = Math.max(...logcnt.flat());
  const log2phy = logcnt.map((row) => row.map(() => Array<number>(maxcnt).fill(-1)));
  phy2log.forEach((row, l) => row.forEach((e, p) => (log2phy[l]![e]![phyrank[l]![p]!] = p)));
  return { phy2log, log2phy, logcnt };
}
