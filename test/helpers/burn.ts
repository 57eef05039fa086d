/** Burns about `ms` of CPU on this thread (a stand-in for a shard run in emulation tests). */
export async function burn(ms: number): Promise<void> {
  const t = performance.now();
  let x = 0;
  while (performance.now() - t < ms) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}
