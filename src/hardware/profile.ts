/**
 * @module
 * Hardware profiles: the physical parameters the virtual clock is computed from.
 *
 * Units, everywhere in expertmesh: bandwidth in GB/s where 1 GB/s = 1e9 bytes per second (so
 * `bytes / (GBps * 1e3)` is microseconds), latency and time in microseconds (us), memory in bytes,
 * compute in TFLOP/s (1e12 floating-point operations per second).
 */
import { fail, showValue } from '../errors.js';

/** Peak dense tensor-core throughput per number format, TFLOP/s. */
export interface PeakTflops {
  fp8: number;
  bf16: number;
  fp32: number;
}

/** The physical parameters of one GPU model and its links. Extend by spreading an existing profile. */
export interface HardwareProfile {
  /** Profile name, used by scenario files (`"hardware": "H800"`). */
  name: string;
  /** Streaming multiprocessors per GPU. */
  smCount: number;
  /** HBM capacity per GPU, bytes. Registered memory is counted against it. */
  hbmBytes: number;
  /** HBM bandwidth per GPU, GB/s (read + write combined). */
  hbmGBps: number;
  /** Achievable NVLink bandwidth per GPU and direction, GB/s. */
  nvlinkGBps: number;
  /** One-way NVLink latency between two GPUs of a node, us. */
  nvlinkLatencyUs: number;
  /** Achievable InfiniBand (RDMA) bandwidth per GPU (one NIC per GPU) and direction, GB/s. */
  ibGBps: number;
  /** One-way InfiniBand latency between GPUs of two nodes, us. */
  ibLatencyUs: number;
  /** Peak dense tensor-core throughput per format. */
  peakTflops: PeakTflops;
  /** Fixed cost of launching one kernel, us. */
  kernelLaunchUs: number;
  /**
   * Bytes one warp of a communication kernel keeps in flight (loads issued, stores not yet
   * acknowledged). With the destination's latency it gives the memory-level-parallelism bound of a
   * copy: `warps * smBytesInFlightPerWarp / latency` (see `src/ep/sm-clock.ts`).
   */
  smBytesInFlightPerWarp: number;
  /** Latency of a load from (or store to) local HBM as a copying warp sees it, us. */
  hbmLatencyUs: number;
  /** Rate at which one SM issues copy instructions (load + store of 16 B per lane), GB/s. */
  smIssueGBps: number;
  /** Rate at which one SM reads HBM, GB/s. */
  smHbmReadGBps: number;
  /** Rate at which one SM writes (local HBM or a peer's over NVLink), GB/s. */
  smHbmWriteGBps: number;
  /** Rate at which one SM reduces rows (bytes of input rows consumed), GB/s. */
  smReduceGBps: number;
  /** Fixed cost of one chunked NVLink send (stores, fence, tail update) on the issuing warp, us. */
  nvlinkMessageUs: number;
  /**
   * Cost on the issuing warp of posting one RDMA work request (a write, or a remote atomic such as a
   * ring's tail): reserving its slot in the queue pair's send queue, writing the request and the
   * release fence before the doorbell, us. A chunk posts two (its data and its tail).
   */
  ibMessageUs: number;
  /**
   * Doorbell: from a posted work request to its NIC starting on it (the doorbell's MMIO write to
   * the NIC and the NIC's fetch of the request from GPU memory), us. It delays the transfer, not
   * the warp.
   */
  ibDoorbellUs: number;
  /** Host round trip of a CPU-synchronised step (the notify step's wait for counts), us. */
  hostSyncUs: number;
  /**
   * Rate one RDMA queue pair reaches on its own, GB/s: a work request's transfer is capped at its
   * QP's rate, while the NIC (`ibGBps`) is shared by all QPs.
   */
  ibQpGBps: number;
}

/**
 * NVIDIA H800 SXM as DeepSeek deploys it: 8 NVLink links (~165 GB/s per direction, NCCL; x 0.9 usable),
 * one CX7 400 Gb/s NIC per GPU (50 GB/s line rate; 49 GB/s with two queue pairs, 45.625 with one), 132 SMs, 80 GB HBM3 at ~3.35 TB/s, H100 compute.
 */
export const H800: HardwareProfile = Object.freeze({
  name: 'H800',
  smCount: 132,
  hbmBytes: 80e9,
  hbmGBps: 3350,
  nvlinkGBps: 148.5,
  nvlinkLatencyUs: 1.0,
  // 392 Gb/s: what two queue pairs reach on 4 MB writes on a 400 Gb/s CX7 (deepep-details.md §5;
  // "46-48 GB/s in practice" there too). Was 50 (the line rate) before the NIC model.
  ibGBps: 49,
  ibLatencyUs: 2.5,
  peakTflops: Object.freeze({ fp8: 1979, bf16: 989, fp32: 67 }),
  kernelLaunchUs: 4,
  smBytesInFlightPerWarp: 4096,
  hbmLatencyUs: 0.6,
  smIssueGBps: 112,
  smHbmReadGBps: 200,
  smHbmWriteGBps: 50,
  smReduceGBps: 120,
  nvlinkMessageUs: 0.3,
  ibMessageUs: 0.3,
  ibDoorbellUs: 1.0,
  hostSyncUs: 15,
  // 365 Gb/s: one queue pair on 4 MB writes (deepep-details.md §5).
  ibQpGBps: 45.625,
}) as HardwareProfile;

/**
 * NVIDIA H100 SXM: 18 NVLink 4 links (NCCL counts ~371 GB/s per direction; x 0.9 usable), CX7 NIC per GPU; every
 * other value is the H800's (same die, same SM).
 */
export const H100: HardwareProfile = Object.freeze({
  ...H800,
  name: 'H100',
  nvlinkGBps: 334,
  peakTflops: H800.peakTflops,
}) as HardwareProfile;

/** NVIDIA H200 SXM: H100 compute and links, 141 GB HBM3e at ~4.8 TB/s. */
export const H200: HardwareProfile = Object.freeze({
  ...H100,
  name: 'H200',
  hbmBytes: 141e9,
  hbmGBps: 4800,
}) as HardwareProfile;

const BUILT_IN: ReadonlyMap<string, HardwareProfile> = new Map([H800, H100, H200].map((p) => [p.name, p]));

/** The numeric fields of a profile, `peakTflops.*` dotted, in display order. */
export const HARDWARE_FIELDS = [
  'smCount', 'hbmBytes', 'hbmGBps', 'nvlinkGBps', 'nvlinkLatencyUs', 'ibGBps', 'ibLatencyUs',
  'peakTflops.fp8', 'peakTflops.bf16', 'peakTflops.fp32', 'kernelLaunchUs', 'smBytesInFlightPerWarp', 'hbmLatencyUs',
  'smIssueGBps', 'smHbmReadGBps', 'smHbmWriteGBps', 'smReduceGBps',
  'nvlinkMessageUs', 'ibMessageUs', 'hostSyncUs', 'ibQpGBps', 'ibDoorbellUs',
] as const;
export type HardwareField = (typeof HARDWARE_FIELDS)[number];

/** Where each value of a profile comes from: a citation, "fitted to <figures>" or "estimate: <reason>". */
export type HardwareSources = Record<HardwareField, string>;

const H800_SOURCES: HardwareSources = Object.freeze({
  smCount: 'NVIDIA Hopper whitepaper: H100/H800 SXM5 have 132 SMs',
  hbmBytes: 'NVIDIA H800 SXM datasheet: 80 GB HBM3',
  hbmGBps: 'NVIDIA H100/H800 SXM datasheet: 3.35 TB/s HBM3',
  nvlinkGBps: "NCCL's topology model: ~20.6 GB/s per NVLink 4 link on Hopper, 8 links on H800 = ~165 GB/s per direction (DeepSeek-V3 §3.2.2: ~160 achievable), x 0.9 usable (DeepEP V2 get_theoretical_num_sms) = 148.5",
  nvlinkLatencyUs: 'estimate: typical one-way latency of SM-issued NVLink stores; no figure in the reference',
  ibGBps: 'deepep-details.md §5: two queue pairs reach ~392 Gb/s = 49 GB/s on 4 MB writes on the 400 Gb/s ConnectX-7 NIC per GPU (DeepSeek-V3 report §3.2.2; 50 GB/s line rate)',
  ibLatencyUs: 'estimate: typical one-way RDMA write latency through one switch tier; no figure in the reference',
  'peakTflops.fp8': 'NVIDIA H100 SXM datasheet (H800 has H100 compute): 1,979 dense FP8 TFLOP/s',
  'peakTflops.bf16': 'NVIDIA H100 SXM datasheet: 989 dense BF16 TFLOP/s',
  'peakTflops.fp32': 'NVIDIA H100 SXM datasheet: 67 FP32 TFLOP/s',
  kernelLaunchUs: 'estimate: CUDA kernel launch overhead of a few us; no figure in the reference',
  smBytesInFlightPerWarp: "fitted to DeepEP's H800 normal rows at 24 SMs and 4096 tokens (EP8 dispatch 153 / combine 158 GB/s NVLink, EP32 dispatch 58 / combine 57 GB/s RDMA) under DeepSeek-V3 §3.2.2 (20 SMs saturate IB and NVLink: EP32 and EP64 within 10% of 32 SMs); re-fitted on the credit-controlled links and the NIC's queue pairs over 2048-4096 B: every value meets both, their largest errors (9.3-9.8%) differ by less than the published figures' rounding, so the value stays 4096 (docs/hardware.md)",
  hbmLatencyUs: 'estimate: loaded HBM3 access latency on Hopper is ~0.5-0.7 us; no figure in the reference',
  smIssueGBps: 'estimate: 64 B copied per SM cycle (a 16 B load and a 16 B store per lane, LSU-bound) at 1.755 GHz = 112 GB/s; the reference gives only the HBM rates',
  smHbmReadGBps: "DeepEP V2 get_theoretical_num_sms: per-SM HBM read 200 GB/s (its Hopper default)",
  smHbmWriteGBps: "DeepEP V2 get_theoretical_num_sms: per-SM HBM write 50 GB/s (its Hopper default)",
  smReduceGBps: 'estimate: FP32 reduction of BF16 rows from local HBM per SM; not binding on H800',
  nvlinkMessageUs: 'estimate: fence and tail release of one chunked NVLink send',
  ibMessageUs: "estimate: IBGDA posting of one work request by the issuing warp: an atomic reserving its send-queue slot, a 64 B request written by the lanes, a release fence before the doorbell; a few hundred cycles each at 1.755 GHz, ~0.3 us (the reference gives no figure; EP32 moves < 0.5% for x0.5-x2, docs/hardware.md)",
  ibDoorbellUs: "estimate: the doorbell's MMIO write crossing PCIe to the NIC (~0.5 us) and the NIC's DMA read of the request from GPU memory before the payload (~0.5 us); ibLatencyUs is the wire and switches after that (the reference gives no figure; EP32 moves < 0.5% for x0.5-x2, docs/hardware.md)",
  hostSyncUs: "estimate: host round trip of the CPU polling the notify step's pinned counters (launches are kernelLaunchUs)",
  ibQpGBps: 'deepep-details.md §5: one queue pair reaches ~365 Gb/s = 45.625 GB/s on 4 MB writes',
}) as HardwareSources;

const SOURCES: ReadonlyMap<string, HardwareSources> = new Map([
  ['H800', H800_SOURCES],
  ['H100', Object.freeze({ ...H800_SOURCES, nvlinkGBps: "NCCL's topology model: ~20.6 GB/s per NVLink 4 link on Hopper, 18 links on H100 = ~371 GB/s per direction, x 0.9 usable (DeepEP V2 get_theoretical_num_sms) = 334" }) as HardwareSources],
  ['H200', Object.freeze({
    ...H800_SOURCES,
    nvlinkGBps: "NCCL's topology model: ~20.6 GB/s per NVLink 4 link on Hopper, 18 links on H200 = ~371 GB/s per direction, x 0.9 usable (DeepEP V2 get_theoretical_num_sms) = 334",
    hbmBytes: 'NVIDIA H200 SXM datasheet: 141 GB HBM3e',
    hbmGBps: 'NVIDIA H200 SXM datasheet: 4.8 TB/s HBM3e',
  }) as HardwareSources],
]);

/** The sources of a built-in profile's values (by name, case-insensitive). */
export function builtInHardwareSources(name: string): HardwareSources {
  if (typeof name !== 'string') fail('E_CONFIG', `hardware profile name must be a string such as 'H800', got ${showValue(name)}`, { name: showValue(name) });
  const s = SOURCES.get(name.toUpperCase());
  if (!s) fail('E_CONFIG', `unknown hardware profile '${name}'; known: ${hardwareProfileNames().join(', ')}`, { name });
  return s;
}

/** Read a field (`peakTflops.fp8` dotted) of a profile. */
export function hardwareField(p: HardwareProfile, f: HardwareField): number {
  return f.startsWith('peakTflops.') ? p.peakTflops[f.slice(11) as keyof PeakTflops] : (p[f as Exclude<HardwareField, `peakTflops.${string}`>] as number);
}

/** The built-in profile names. */
export function hardwareProfileNames(): string[] {
  return [...BUILT_IN.keys()];
}

/**
 * Look up a built-in profile by name (case-insensitive).
 * @throws ExpertmeshError `E_CONFIG` naming the unknown name and the known ones.
 */
export function getHardwareProfile(name: string): HardwareProfile {
  if (typeof name !== 'string') fail('E_CONFIG', `hardware profile name must be a string such as 'H800', got ${showValue(name)}`, { name });
  const p = BUILT_IN.get(name.toUpperCase());
  if (!p) fail('E_CONFIG', `unknown hardware profile '${name}'; known: ${hardwareProfileNames().join(', ')}`, { name });
  return p;
}

/**
 * Check a profile's fields are positive finite numbers; returns it unchanged.
 * @throws ExpertmeshError `E_CONFIG` naming the first bad field and value.
 */
export function validateHardwareProfile(p: HardwareProfile, where = 'hardware'): HardwareProfile {
  if (typeof where !== 'string') fail('E_CONFIG', `validateHardwareProfile: where must be a string naming the profile's origin, got ${showValue(where)}`, { argument: 'where' });
  const check = (field: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      fail('E_CONFIG', `${where}.${field} must be a positive finite number, got ${showValue(v)}`, { field, value: v });
  };
  if (typeof p !== 'object' || p === null) fail('E_CONFIG', `${where} must be a HardwareProfile object, got ${showValue(p)}`, { value: p });
  for (const f of ['smCount', 'hbmBytes', 'hbmGBps', 'nvlinkGBps', 'nvlinkLatencyUs', 'ibGBps', 'ibLatencyUs', 'kernelLaunchUs', 'smBytesInFlightPerWarp', 'hbmLatencyUs', 'smIssueGBps', 'smHbmReadGBps', 'smHbmWriteGBps', 'smReduceGBps', 'nvlinkMessageUs', 'ibMessageUs', 'ibDoorbellUs', 'hostSyncUs', 'ibQpGBps'] as const)
    check(f, p[f]);
  for (const f of ['fp8', 'bf16', 'fp32'] as const) check(`peakTflops.${f}`, p.peakTflops?.[f]);
  return p;
}
