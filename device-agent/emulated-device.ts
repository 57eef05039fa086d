import type { Capabilities } from '@edgerelay/proto';
import { ComputeStretch, type EmulatedLink, type EmulationRecord } from './emulation.js';
import { randomUUID } from 'node:crypto';
import { EmulationSharing } from './emulation-sharing.js';
import { HostSpeed } from './host-speed.js';

/** A slower device this agent plays (sim/): its GFLOP/s, memory, and network link. */
export interface EmulatedDevice {
  gflops: number;
  memoryBytes?: number;
  link?: EmulatedLink;
  /**
   * This machine's GFLOP/s per CPU-second, fixed; when not given the agent tracks it (host-speed.ts), which
   * keeps the emulated speed steady on a machine whose speed wanders.
   */
  referenceGflops?: number;
  /** Where tracking starts: the fastest reference figure the agent's launcher saw on this machine. */
  referenceSeedGflops?: number;
  /** A folder the emulated agents of this machine share their calibration in (emulation-sharing.ts). */
  calibrationDir?: string;
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
): Promise<{ stretch: ComputeStretch; capabilities: Capabilities; release: () => Promise<void> }> {
  const reference = emulate.referenceGflops
    ? undefined
    : await HostSpeed.start(threads, { seedGflops: emulate.referenceSeedGflops });
  const stretch = new ComputeStretch(
    reference ? { reference, deviceGflops: emulate.gflops } : emulate.referenceGflops! / emulate.gflops,
    record,
  );
  const sharing =
    emulate.calibrationDir &&
    new EmulationSharing(emulate.calibrationDir, `${process.pid}-${randomUUID().slice(0, 8)}`, stretch, reference);
  return {
    stretch,
    release: async () => {
      if (sharing) sharing.stop();
      await reference?.release();
    },
    capabilities: {
      ...measured,
      gflops: emulate.gflops,
      // The stretch slows every kernel alike, so the emulated device keeps this machine's int8 speed-up.
      int8Gflops: measured.gflops ? (emulate.gflops * Number(measured.int8Gflops ?? 0)) / Number(measured.gflops) : 0,
      ...(emulate.memoryBytes && { memoryTotalBytes: emulate.memoryBytes, memoryFreeBytes: emulate.memoryBytes }),
    },
  };
}
