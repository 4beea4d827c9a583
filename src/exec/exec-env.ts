/**
 * The last step before `execve`: add the layer's control variables to the merged environment, and
 * check that the kernel will take it. Linux refuses an exec (E2BIG) when one argument or variable
 * string is longer than MAX_ARG_STRLEN (32 pages: 128 KiB, NUL included), or when all of them
 * together, plus a pointer each, exceed a quarter of the stack limit (fs/exec.c, execve(2) "Limits
 * on size of arguments and environment"). mirrord users hit this with big pod environments (#3254).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';

export const LAYER_SOCKET_ENV = 'KUBECTL_MIRRORD_LAYER_SOCKET';

/** 32 pages of 4 KiB (include/uapi/linux/binfmts.h). */
export const MAX_ARG_STRLEN = 32 * 4096;

/** A quarter of the soft stack limit (read from /proc/self/limits), as the kernel computes it; 2 MiB if unknown. */
export function argMax(limits = readLimits()): number {
  const m = /^Max stack size\s+(\d+|unlimited)/m.exec(limits);
  if (!m || m[1] === 'unlimited') return 2 * 1024 * 1024 * 3;
  return Math.floor(Number(m[1]) / 4);
}

function readLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}

/** LD_PRELOAD with the layer first (a user's own preload still loads, after ours). */
export function withLayer(env: Record<string, string>, layerPath: string, socketPath: string): Record<string, string> {
  const existing = (env.LD_PRELOAD ?? '').split(/[: ]/).filter((p) => p !== '' && p !== layerPath);
  return { ...env, LD_PRELOAD: [layerPath, ...existing].join(':'), [LAYER_SOCKET_ENV]: socketPath };
}

/**
 * @throws UsageError E2BIG naming the biggest variables, and saying how to leave them out.
 */
export function checkExecSize(argv: string[], env: Record<string, string>, limit = argMax()): void {
  const entries = Object.entries(env).map(([k, v]) => ({ name: k, bytes: Buffer.byteLength(k) + 1 + Buffer.byteLength(v) + 1 }));
  const biggest = [...entries].sort((a, b) => b.bytes - a.bytes);
  const top = biggest.slice(0, 5).map((e) => `${e.name} (${Math.ceil(e.bytes / 1024)} KiB)`).join(', ');
  const hint = 'leave pod variables out with -x/--env-exclude NAME (or feature.env.exclude), or take only some with -s/--env-include';
  const tooLong = biggest.find((e) => e.bytes > MAX_ARG_STRLEN);
  if (tooLong) {
    throw new UsageError('E2BIG', `the variable ${tooLong.name} is ${Math.ceil(tooLong.bytes / 1024)} KiB, over the kernel's 128 KiB limit for one variable (MAX_ARG_STRLEN): execve would refuse it`, { hint });
  }
  const longArg = argv.find((a) => Buffer.byteLength(a) + 1 > MAX_ARG_STRLEN);
  if (longArg !== undefined) throw new UsageError('E2BIG', `an argument of the program is over the kernel's 128 KiB limit (MAX_ARG_STRLEN)`, { hint: 'pass it in a file instead' });
  const total = entries.reduce((n, e) => n + e.bytes + 8, 0) + argv.reduce((n, a) => n + Buffer.byteLength(a) + 1 + 8, 0);
  if (total > limit) {
    throw new UsageError('E2BIG', `the program's environment and arguments take ${Math.ceil(total / 1024)} KiB, over the ${Math.floor(limit / 1024)} KiB execve accepts (E2BIG); the biggest variables: ${top}`, { hint });
  }
}
