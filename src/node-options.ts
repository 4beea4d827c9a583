/**
 * The options the CLI's Node runs with, wherever it runs: the single executable carries them as its
 * `execArgv` (scripts/release/sea.ts), bin/kubectl-mirrord passes them on Node's command line, and
 * `npm run bench` runs the bundle with them. They must be on the command line: Node refuses V8
 * options like these in NODE_OPTIONS.
 *
 * `--heap-growing-percent=200`: after each full garbage collection, let the old generation grow to
 * three times what survived before the next one starts. The CLI's heap is small and steady (about
 * 25 MB, mostly the Kubernetes client's code), but a forward allocates a fresh buffer for every
 * socket read, TLS record and WebSocket message. With V8's own growing factor (about 1.7 for this
 * heap: a 38 MB limit over 22 MB live) V8 kept starting to mark the whole heap well below that
 * limit (--trace-incremental-marking: "Start (allocation limit)" at 22 of 38 MB): 72 to 82 full
 * collections per 1.3 GB downloaded through -L (--trace-gc), for a heap whose size never changed.
 * At 200 it was 38 to 41, about what the buffers' external memory alone triggers; 100 stopped
 * halfway (52 and 54), 300 did no better (38 and 39).
 *
 * `--max-semi-space-size=1`: a young generation of 1 MiB semi-spaces, where V8's default grows to
 * 16 MiB on a 64-bit machine with a 2 GiB heap limit (Node's doc/api/cli.md, --max-semi-space-size).
 * Those buffers live for microseconds to milliseconds, but each costs the JS heap only its small
 * Buffer object and the stream objects around it, against 16 to 64 KB of memory outside it. The
 * default young generation therefore filled, and was scavenged, only once per tens of MB moved, so
 * dead buffers piled up until their external memory started a full collection instead. With 1 MiB
 * a scavenge frees them while they are young. Over the bench's memory sequence (--trace-gc, one
 * run each, this option added alone): 53 full collections and 60 scavenges before, 15 and 654
 * after.
 *
 * `--no-concurrent-array-buffer-sweeping`: the memory of dead buffers is freed on the main thread at
 * the end of each collection, rather than by a helper thread that each of those hundreds of
 * scavenges would wake to free() into the main thread's malloc arena. On two cores that thread
 * competes with the relay; alone, the semi-space option left the CLI at 3.0 s per GB downloading
 * and 3.3 s uploading (medians of 8 runs), and with this one too at 2.6 s and 2.7 s (5 runs).
 *
 * `npm run bench`'s kubectl case on one 2-core machine, interleaved runs, medians:
 * - heap growing only (3 runs) → all three (5 runs): our CLI's CPU per GB 4.45 → 2.61 s downloading
 *   and 3.37 → 2.67 s uploading; against kubectl's 1.78× → 1.22× and 1.33× → 1.15×;
 * - peak RSS over the memory sequence 211 → 199 MB, and 10 s after it 207 → 190 MB;
 * - before any of them (4 runs, an earlier day): 4.7 s and 4.5 s per GB.
 * `--expose-gc`: for the one full collection src/cli/idle-collector.ts runs once the CLI goes quiet
 * after moving data (it says why V8 would not run one by itself).
 *
 * The agent, whose heap is a fraction of this one, did not change with the heap growing option
 * (loopback session path, 0.81 to 0.97 s/GB either way), so it runs with Node's defaults.
 */

export const CLI_NODE_OPTIONS: readonly string[] = [
  '--heap-growing-percent=200',
  '--max-semi-space-size=1',
  '--no-concurrent-array-buffer-sweeping',
  '--expose-gc',
];

/** One line for -v: the Node version and the options it was started with. */
export function runtimeDescription(): string {
  const options = process.execArgv.length > 0 ? process.execArgv.join(' ') : 'no options';
  return `runtime: Node ${process.version}, ${options}`;
}
