/**
 * How a demo step checks what it claims: a failed check is a StepFailure carrying the claim and
 * the evidence (curl's output, a process's last lines, the pod's log), which demo.ts prints.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WaitError, type Background } from './background.ts';
import { curl, curlEvidence } from './commands.ts';
import { podLog } from './context.ts';

export class StepFailure extends Error {
  /** What was seen instead of the claim (`message`). */
  readonly evidence: string;

  constructor(claim: string, evidence: string) {
    super(claim);
    this.evidence = evidence;
  }
}

/** Runs curl with `args` and parses its body as JSON. @throws StepFailure (claim `what`) otherwise. */
export async function curlJson(args: string[], what: string): Promise<Record<string, any>> {
  const r = await curl(args);
  if (r.code === 0) {
    try {
      return JSON.parse(r.stdout);
    } catch {
      // reported below, with the body
    }
  }
  throw new StepFailure(what, curlEvidence(args, r));
}

/** `claim` must hold of `value`; otherwise a StepFailure showing `value`. */
export function expect(holds: boolean, claim: string, value: unknown): void {
  if (!holds) throw new StepFailure(claim, `got: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
}

/** The line ip-visit-counter logs for a request to `path` (see test/sandbox/images/ip-visit-counter.ts). */
export function requestLine(path: string): RegExp {
  return new RegExp(`^GET ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} from (\\S+)$`, 'm');
}

/** Waits until `proc` printed the request line for `path`; @returns the client IP it logged. */
export async function copyLogged(proc: Background, path: string, claim: string, timeoutMs = 15_000): Promise<string> {
  try {
    return (await proc.waitFor(requestLine(path), claim, timeoutMs))[1];
  } catch (err) {
    if (err instanceof WaitError) throw new StepFailure(claim, `${err.reason}; ${proc.name} printed:\n${err.evidence}`);
    throw err;
  }
}

/** Waits until the pod's log has the request line for `path`; @returns the client IP it logged. */
export async function podLogged(path: string, claim: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let log = '';
  for (;;) {
    log = await podLog();
    const m = log.match(requestLine(path));
    if (m) return m[1];
    if (Date.now() > deadline) break;
    await sleep(300);
  }
  throw new StepFailure(claim, `the pod's log (kubectl logs -l app=ip-visit-counter) has no line "GET ${path} from ..."; its last lines:\n${log.trimEnd().split('\n').slice(-10).join('\n')}`);
}

/** The pod's log must not have the request line for `path`. */
export async function podDidNotLog(path: string, claim: string): Promise<void> {
  const log = await podLog();
  const m = log.match(requestLine(path));
  if (m) throw new StepFailure(claim, `the pod's log has: ${m[0]}`);
}

/** `proc` must not have printed the request line for `path`. */
export function copyDidNotLog(proc: Background, path: string, claim: string): void {
  const m = proc.output().match(requestLine(path));
  if (m) throw new StepFailure(claim, `${proc.name} printed: ${m[0]}`);
}

/** Waits for `pattern` in `proc`'s output, as a step's check (`claim`). */
export async function processPrinted(proc: Background, pattern: RegExp, claim: string, timeoutMs: number): Promise<RegExpMatchArray> {
  try {
    return await proc.waitFor(pattern, claim, timeoutMs);
  } catch (err) {
    if (err instanceof WaitError) throw new StepFailure(claim, `${err.reason}; ${proc.name} printed:\n${err.evidence}`);
    throw err;
  }
}
