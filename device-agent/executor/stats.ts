/** Counters an agent reports on request (tests use them to prove later stages stayed idle). */
export class AgentStats {
  stageRuns = 0;
  partialRuns = 0;
  earlyExits = 0;
  layersRun = 0;
  failures = 0;
  /** Cached shards found corrupt on disk (deleted and downloaded again); more than a few means a failing disk. */
  cacheCorruptions = 0;
  /**
   * Emulated agents (sim/, device-agent/emulation.ts): shard runs stretched, the summed emulated target
   * time, and how far real run time went past it: a machine too busy or too slow to play the device.
   */
  emulatedRuns = 0;
  emulationTargetMs = 0;
  emulationOvershootMs = 0;
  emulationOvershotRuns = 0;
  /** The reference speed the last stretched run used (0: not emulating); steady once the agent settled. */
  emulationReferenceGflops = 0;
  /** Sequence-parallel stage runs taken part in as a member (not the host). */
  seqMemberRuns = 0;
}
