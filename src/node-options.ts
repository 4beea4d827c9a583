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
 * collections per 1.3 GB downloaded through -L (--trace-gc), for a heap whose size never changed. At 200 it was 38 to 41, about what the buffers' external memory alone triggers;
 * 100 stopped halfway (52 and 54), 300 did no better (38 and 39).
 *
 * In `npm run bench`'s kubectl case on one 2-core machine, medians of runs with and without it:
 * the CLI's CPU per GB 4.7 s → 3.4 s downloading and 4.5 s → 2.6 s uploading, its peak RSS over
 * the memory sequence unchanged (201 to 230 MB either way). The agent, whose heap is a fraction of
 * this one, did not change with it (loopback session path, 0.81 to 0.97 s/GB either way), so it
 * runs with Node's defaults.
 */

export const CLI_NODE_OPTIONS: readonly string[] = ['--heap-growing-percent=200'];

/** One line for -v: the Node version and the options it was started with. */
export function runtimeDescription(): string {
  const options = process.execArgv.length > 0 ? process.execArgv.join(' ') : 'no options';
  return `runtime: Node ${process.version}, ${options}`;
}
