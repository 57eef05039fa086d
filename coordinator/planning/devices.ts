/**
 * Public figures for the devices and links edgerelay clusters are made of, so a cluster can be
 * planned before any agent runs. A live agent's measured benchmark always replaces these.
 * How each figure was derived, with sources: docs/planner.md ("Device and link profiles").
 */

export interface DeviceProfile {
  name: string;
  cpu: string;
  /** Effective sustained float32 matmul GFLOP/s with `threads` ONNX Runtime threads (see the docs for the derivation). */
  gflops: number;
  memoryMB: number;
  threads: number;
  source: string;
}

export const DEVICE_PROFILES = {
  // HPL 11.43 GFLOP/s (fp64) on a CM4 (same BCM2711, 4× A72 at 1.5 GHz): geerlingguy/top500-benchmark#33.
  pi4: {
    name: 'Raspberry Pi 4 Model B (4 GB)',
    cpu: '4× Cortex-A72 @ 1.5 GHz',
    gflops: 11.4,
    memoryMB: 4096,
    threads: 4,
    source: 'HPL 11.43 GFLOP/s on BCM2711 @ 1.5 GHz (geerlingguy/top500-benchmark#33)',
  },
  // HPL 30.25 GFLOP/s (fp64) at the stock 2.4 GHz: geerlingguy/top500-benchmark#18.
  pi5: {
    name: 'Raspberry Pi 5 (8 GB)',
    cpu: '4× Cortex-A76 @ 2.4 GHz',
    gflops: 30.2,
    memoryMB: 8192,
    threads: 4,
    source: 'HPL 30.25 GFLOP/s on BCM2712 @ 2.4 GHz (geerlingguy/top500-benchmark#18)',
  },
  // No public HPL run: the Pi 4 figure scaled by clock (1.43 / 1.5; same NEON width), less 10% for the A57's smaller core.
  'jetson-nano': {
    name: 'NVIDIA Jetson Nano (4 GB), CPU only',
    cpu: '4× Cortex-A57 @ 1.43 GHz',
    gflops: 9.8,
    memoryMB: 4096,
    threads: 4,
    source: 'Pi 4 HPL scaled by clock and core (no published HPL run)',
  },
  // No public HPL run: the Pi 5 figure scaled by cores × clock (6 × 1.5 vs 4 × 2.4; same 2×128-bit FMA pipes);
  // whisper.cpp's ggml_mul_mat F32 (ggml-org/whisper.cpp#89) puts the two CPUs within ~15% of each other too.
  'orin-nano': {
    name: 'NVIDIA Jetson Orin Nano (8 GB), CPU only',
    cpu: '6× Cortex-A78AE @ 1.5 GHz',
    gflops: 28.3,
    memoryMB: 8192,
    threads: 6,
    source:
      'Pi 5 HPL scaled by cores × clock; cross-checked with whisper.cpp ggml_mul_mat F32 (ggml-org/whisper.cpp#89)',
  },
} as const satisfies Record<string, DeviceProfile>;

export type DeviceProfileName = keyof typeof DEVICE_PROFILES;
export const DEVICE_PROFILE_NAMES = Object.keys(DEVICE_PROFILES) as DeviceProfileName[];

export interface LinkProfile {
  /** Effective goodput, megabits (1e6 bits) per second. */
  bandwidthMbps: number;
  /** One-way latency of a message, milliseconds. */
  latencyMs: number;
  source: string;
}

export const LINK_PROFILES = {
  // iperf3 between a Pi 4 and a gigabit host: 938–941 Mbit/s (yrzr/opnsense-tools#9; "up to 943 Mbps", geerlingguy/internet-pi#134).
  gigabit: {
    bandwidthMbps: 940,
    latencyMs: 0.2,
    source: 'iperf3 938-943 Mbit/s on a Pi 4 (yrzr/opnsense-tools#9, geerlingguy/internet-pi#134)',
  },
  // The Pi 4's own Wi-Fi tops out near 100 Mbit/s (geerlingguy/internet-pi#134); with contention ~80 is typical,
  // and a Wi-Fi hop adds milliseconds of airtime contention where a switched LAN adds a fraction of one.
  wifi: {
    bandwidthMbps: 80,
    latencyMs: 3,
    source: 'Pi 4 Wi-Fi ~100 Mbit/s peak (geerlingguy/internet-pi#134), 2-5 ms per hop',
  },
} as const satisfies Record<string, LinkProfile>;

export type LinkProfileName = keyof typeof LINK_PROFILES;

export interface Link {
  bandwidthBytesPerSec: number;
  latencyMs: number;
}

export function linkFromMbps(bandwidthMbps: number, latencyMs: number): Link {
  return { bandwidthBytesPerSec: (bandwidthMbps * 1e6) / 8, latencyMs };
}

export function linkProfile(name: LinkProfileName): Link {
  const p = LINK_PROFILES[name];
  return linkFromMbps(p.bandwidthMbps, p.latencyMs);
}
