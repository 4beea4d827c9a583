/**
 * glibc malloc settings for the CLI's own process, and the re-exec that applies them.
 *
 * Every socket read, TLS record and WebSocket message the CLI relays is a fresh buffer of 16 to
 * 256 KB, allocated with malloc (Node's ArrayBuffer allocator) and freed by a garbage collection
 * milliseconds later. glibc serves allocations under its mmap threshold from the arena it grows
 * with brk, and returns that memory to the kernel only from the top of the arena (mallopt(3),
 * M_TRIM_THRESHOLD): one long-lived allocation above a hole of freed buffers keeps the hole
 * resident. The threshold also adapts upwards (up to 32 MiB on 64-bit) each time an mmapped chunk
 * is freed (mallopt(3), M_MMAP_THRESHOLD), so after the first large buffers even those end up in
 * the arena. Measured over the bench's memory sequence (1 GiB down, 1 GiB up, 8 × 10,000 round
 * trips, 1,000 SOCKS connections), then a full GC: the main arena still held 65 to 79 MB, and the
 * CLI's RSS was 150 to 176 MB, against 104 MB idle before the sequence.
 *
 * A fixed threshold (which also turns the adaptation off) puts every allocation of that size or more
 * in its own mapping, unmapped when freed. With `glibc.malloc.mmap_threshold=16000` (the 16 KiB TLS
 * records included) the arena stayed under 13 MB, and RSS after the sequence and a GC was 86 to 92
 * MB; the idle CLI itself fell from 104 to 87 MB, since loading the Kubernetes client leaves its
 * own holes.
 *
 * The setting has to be in the environment when the process starts, which a user running the
 * single executable from krew cannot be asked to do. So a command that relays traffic re-executes
 * itself once, with `GLIBC_TUNABLES` extended (execve, so the process keeps its pid), and the
 * re-executed process puts the user's own `GLIBC_TUNABLES` back into its environment at once: the
 * programs it starts (kubectl credential plugins, the program under `exec`) get the environment the
 * user gave, not ours. bin/kubectl-mirrord sets the same variables itself, and saves the re-exec.
 */
import { runtimeDescription } from '../node-options.ts';
import { selfCommand } from './self-command.ts';

/** What the CLI adds to GLIBC_TUNABLES. The user's own setting of the same tunable wins. */
export const CLI_MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=16000';

/**
 * Set in the re-executed process: the user's GLIBC_TUNABLES as it was, after a `=`, or `-` if it
 * was unset.
 */
export const SAVED_TUNABLES_VARIABLE = 'KUBECTL_MIRRORD_USER_GLIBC_TUNABLES';

/**
 * The commands that relay traffic, and so run long enough for their memory to matter. `exec`
 * relays nothing itself: its exec proxy holds the session, and is started with tunedEnvironment().
 */
const RELAYING_COMMANDS = new Set(['port-forward', 'socks']);

/** The GLIBC_TUNABLES this process was started with, if it has the CLI's malloc settings. */
let startedWith: string | undefined;

/** `env` with the CLI's malloc settings, for starting a process of this CLI that relays traffic. */
export function tunedEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const user = env.GLIBC_TUNABLES;
  return {
    ...env,
    GLIBC_TUNABLES: user ? `${CLI_MALLOC_TUNABLES}:${user}` : CLI_MALLOC_TUNABLES,
    [SAVED_TUNABLES_VARIABLE]: user === undefined ? '-' : `=${user}`,
  };
}

/**
 * Call first thing. In a process started with the settings, puts the user's GLIBC_TUNABLES back
 * and returns. Otherwise, for a relaying command on Linux, re-executes this process with them; if
 * that fails, returns and the command runs with glibc's defaults.
 */
export function applyMallocTuning(args: readonly string[]): void {
  const saved = process.env[SAVED_TUNABLES_VARIABLE];
  if (saved !== undefined) {
    const tunables = process.env.GLIBC_TUNABLES;
    if (tunables?.startsWith(CLI_MALLOC_TUNABLES)) startedWith = tunables;
    delete process.env[SAVED_TUNABLES_VARIABLE];
    if (saved.startsWith('=')) process.env.GLIBC_TUNABLES = saved.slice(1);
    else delete process.env.GLIBC_TUNABLES;
    return;
  }
  if (process.platform !== 'linux' || !process.execve || !RELAYING_COMMANDS.has(args[0] ?? '')) return;
  const self = selfCommand();
  try {
    process.execve(self.file, [process.argv0, ...self.args, ...process.argv.slice(2)], tunedEnvironment(process.env));
  } catch {
    // execve failed (a seccomp policy, say): run untuned rather than not at all.
  }
}

/** For -v: the Node version and options, and the malloc settings this process runs with. */
export function runtimeLine(): string {
  return `${runtimeDescription()}; malloc: ${startedWith ?? "glibc's defaults"}`;
}
