/**
 * Gives memory back once the CLI has gone quiet: a full garbage collection, so that the buffers of
 * a finished transfer are freed then rather than at some later collection, and then malloc_trim
 * (src/cli/memory-addon.ts), so that what they occupied goes back to the kernel.
 *
 * The buffers a relay allocates live outside V8's heap, and V8 starts a full collection for them
 * only once 64 MiB more of them exist than after the last one. A transfer therefore usually ends
 * with tens of MB of dead buffers, and an idle CLI allocates too little to reach any limit. V8's
 * memory reducer is meant for exactly this, but it collects only when it sees a low allocation
 * rate, and the rate it sees is the one measured at the last collection, during the transfer:
 * with --trace-memory-reducer it logged "high alloc" every 8 s for as long as the CLI stayed idle.
 * Measured after the bench's memory sequence and 10 s of quiet: 48 to 64 MB of array buffers
 * (process.memoryUsage), 2 MB after a full collection.
 *
 * Freed, they still count: glibc returns memory to the kernel only from the top of an arena
 * (mallopt(3), M_TRIM_THRESHOLD), and buffers die in no particular order. After the sequence and a
 * full collection the main arena still held 62 to 79 MB and the CLI's RSS was 150 to 176 MB;
 * malloc_trim(0), called from gdb, then took it to 94 to 96 MB. Making glibc unmap each buffer as
 * it is freed instead (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=16000) kept RSS as low, but every
 * buffer then cost fresh pages: the CLI's CPU per GB went from 2.2 to 5.2 s downloading and from
 * 1.9 to 3.2 s uploading (npm run bench, kubectl case, one run each on one machine). A fixed trim
 * threshold of 128 KiB, which lets glibc shrink an arena's top as it frees, cost 41 % more CPU
 * downloading and 21 % more uploading (one run of the memory sequence each), for the same reason,
 * and still left 152 MB.
 *
 * So every CHECK_MS this looks at the process's own CPU time. Once it is below QUIET_CPU of one core
 * after at least BUSY_CPU_MS of work since the last time (a transfer, or starting the session), it
 * collects and trims, which takes a few tens of ms on the CLI's heap. A waiting CLI costs nothing.
 * It needs Node's --expose-gc (src/node-options.ts); without it, it does nothing.
 */
import { loadMallocTrim } from './memory-addon.ts';

const CHECK_MS = 1_000;
/** The share of one core below which the process counts as quiet (keepalives, a stray request). */
const QUIET_CPU = 0.02;
/** CPU time that counts as work worth cleaning up after: about 100 MB relayed. */
const BUSY_CPU_MS = 200;

/** Starts the checks; the returned function stops them. The timer never keeps the process alive. */
export function startIdleCollector(trim: (() => boolean) | undefined = loadMallocTrim()): () => void {
  const collect = globalThis.gc;
  if (typeof collect !== 'function') return () => {};
  let cpu = process.cpuUsage();
  // Starting the session was work: the first quiet moment cleans up after it.
  let busyMs = BUSY_CPU_MS;
  const timer = setInterval(() => {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const usedMs = (used.user + used.system) / 1000;
    // A slow transfer's quiet seconds add up too.
    busyMs += usedMs;
    if (usedMs > QUIET_CPU * CHECK_MS || busyMs < BUSY_CPU_MS) return;
    busyMs = 0;
    // 'last-resort' is the collection V8 runs on a low-memory notification: it also gives back the
    // heap pages the transfer grew (a regular one left the JS heap at 31 MB, against 20 MB).
    collect({ type: 'major', flavor: 'last-resort' });
    trim?.();
    // The collection's own time is not activity.
    cpu = process.cpuUsage();
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
