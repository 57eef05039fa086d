import type { Capabilities } from '@edgerelay/proto';
import { ComputeStretch, type EmulatedLink, type EmulationRecord } from './emulation.js';
import { measureGflops } from './profile.js';

/** A slower device this agent plays (sim/): its GFLOP/s, memory, and network link. */
export interface EmulatedDevice {
  gflops: number;
  memoryBytes?: number;
  link?: EmulatedLink;
  /** This machine's GFLOP/s per CPU-second; measured here when not given. */
  referenceGflops?: number;
}

/**
 * The compute stretch of an emulated device, and the capabilities it reports in place of the
 * measured ones: the coordinator plans with the emulated device's figures.
 */
export async function emulateCompute(
  emulate: EmulatedDevice,
  measured: Capabilities,
  threads: number,
  record?: EmulationRecord,
): Promise<{ stretch: ComputeStretch; capabilities: Capabilities }> {
  // Measured speed first, then stretch. One reference figure for all emulated agents of a machine
  // (the launcher measures it once) keeps their speeds consistent with each other; measure here
  // only when none was given.
  const cpuGflops = emulate.referenceGflops ?? (await measureGflops({ threads, clock: 'cpu' }));
  return {
    stretch: new ComputeStretch(cpuGflops / emulate.gflops, record),
    capabilities: {
      ...measured,
      gflops: emulate.gflops,
      // The stretch slows every kernel alike, so the emulated device keeps this machine's int8 speed-up.
      int8Gflops: measured.gflops ? (emulate.gflops * Number(measured.int8Gflops ?? 0)) / Number(measured.gflops) : 0,
      ...(emulate.memoryBytes && { memoryTotalBytes: emulate.memoryBytes, memoryFreeBytes: emulate.memoryBytes }),
    },
  };
}
