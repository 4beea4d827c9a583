/**
 * A full garbage collection once the CLI has gone quiet after moving data, so that the buffers of a
 * finished transfer are freed then, not at some later collection.
 *
 * The buffers a relay allocates live outside V8's heap, and V8 only starts a full collection for
 * them once 64 MiB more of them exist than after the last one. A transfer therefore usually ends
 * with tens of MB of dead buffers, and an idle CLI allocates too little to reach any limit. V8's
 * memory reducer is meant for exactly this, but it only collects when it sees a low allocation
 * rate, and the rate it sees is the one measured at the last collection, during the transfer:
 * with --trace-memory-reducer it logged "high alloc" every 8 s for as long as the CLI stayed idle.
 * Measured after the bench's memory sequence and 10 s of quiet: 48 to 64 MB of array buffers
 * (process.memoryUsage), 2 MB after a full collection.
 *
 * So every CHECK_MS this looks at the process's own CPU time. Below QUIET_CPU of one core, with at
 * least GARBAGE_BYTES more buffer memory than after the last collection it ran, it runs one (a few
 * tens of ms on the CLI's heap). It needs Node's --expose-gc (src/node-options.ts); without it, it does
 * nothing.
 */
const CHECK_MS = 2_000;
/** The share of one core below which the process counts as quiet (keepalives, a stray request). */
const QUIET_CPU = 0.02;
const GARBAGE_BYTES = 8 * 1024 * 1024;

/** Starts the checks; the returned function stops them. The timer never keeps the process alive. */
export function startIdleCollector(): () => void {
  const collect = globalThis.gc;
  if (typeof collect !== 'function') return () => {};
  let floor = process.memoryUsage().arrayBuffers;
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    if ((used.user + used.system) / 1000 > QUIET_CPU * CHECK_MS) return;
    const buffers = process.memoryUsage().arrayBuffers;
    if (buffers < floor + GARBAGE_BYTES) {
      floor = Math.min(floor, buffers);
      return;
    }
    // 'last-resort' is the collection V8 runs on a low-memory notification: it also gives back the
    // heap pages the transfer grew (a regular one left the JS heap at 31 MB, against 20 MB).
    collect({ type: 'major', flavor: 'last-resort' });
    floor = process.memoryUsage().arrayBuffers;
    // The collection's own time is not activity.
    cpu = process.cpuUsage();
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
