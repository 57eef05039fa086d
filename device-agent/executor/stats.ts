/** Counters an agent reports on request (tests use them to prove later stages stayed idle). */
export class AgentStats {
  stageRuns = 0;
  partialRuns = 0;
  earlyExits = 0;
  layersRun = 0;
  failures = 0;
  /** Cached shards found corrupt on disk (deleted and downloaded again); more than a few means a failing disk. */
  cacheCorruptions = 0;
  /** Sequence-parallel stage runs taken part in as a member (not the host). */
  seqMemberRuns = 0;
}
