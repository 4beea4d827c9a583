/**
 * The target container's environment (request targetEnv): /proc/<pid>/environ of its main process,
 * which holds the environment that process was started with (proc(5)): NUL-separated `NAME=value`
 * strings, exactly what the kubelet and the image gave it (later changes a process makes to its
 * own environment are not reflected there).
 */
import { readFileSync } from 'node:fs';
import { RequestError, ResponseErrorCode } from '../src/protocol/request-errors.ts';
import type { TargetEnvAnswer } from '../src/protocol/requests.ts';
import { accessDeniedReason, type TargetProcess } from './target-process.ts';
import { targetFailure } from './target-errors.ts';

/** Parses environ bytes: entries split at NUL, each at its first `=`; an entry without one is skipped, a later duplicate wins. */
export function parseEnviron(bytes: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of bytes.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Answers targetEnv. @throws RequestError ENOTFOUND (no target), EPERM (naming why), EINTERNAL. */
export function targetEnvironment(target: TargetProcess, procDir = '/proc'): TargetEnvAnswer {
  const { pid } = targetFailure(() => target.current());
  let bytes: Buffer;
  try {
    bytes = readFileSync(`${procDir}/${pid}/environ`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new RequestError(ResponseErrorCode.notPermitted, accessDeniedReason(pid, '/proc/<pid>/environ'));
    if (code === 'ENOENT' || code === 'ESRCH') throw new RequestError(ResponseErrorCode.notFound, `the target's main process (pid ${pid}) is gone`);
    throw new RequestError(ResponseErrorCode.internal, `cannot read /proc/${pid}/environ: ${(err as Error).message}`);
  }
  return { env: parseEnviron(bytes) };
}
