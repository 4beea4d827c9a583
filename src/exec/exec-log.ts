/**
 * The exec proxy's log: one file per session, its path printed before the program starts, mode
 * 0600 in a 0700 directory of this user's. With -v every line also goes to stderr. Warnings the
 * user must see go to stderr once each, prefixed `kubectl-mirrord:` (and to the file).
 */
import { mkdirSync, openSync, closeSync, writeSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** `<tmp>/kubectl-mirrord-<uid>/exec-<date>-<pid>.log`; the directory is made 0700. */
export function newLogPath(now = new Date()): string {
  const dir = join(tmpdir(), `kubectl-mirrord-${userInfo().uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const path = join(dir, `exec-${stamp}-${process.pid}.log`);
  closeSync(openSync(path, 'a', 0o600));
  return path;
}

export class ExecLog {
  readonly path: string;
  readonly #verbose: boolean;
  readonly #warned = new Set<string>();
  /** Opened at the first line and kept: one write per line, not an open, a write and a close. */
  #fd: number | undefined;

  constructor(path: string, verbose: boolean) {
    this.path = path;
    this.#verbose = verbose;
  }

  /** A line for the file (and stderr with -v). Never throws: a full disk must not stop the proxy. */
  line(text: string): void {
    const stamped = `${new Date().toISOString()} ${text}\n`;
    try {
      this.#fd ??= openSync(this.path, 'a', 0o600);
      writeSync(this.#fd, stamped);
    } catch {
      // Nothing better to do; the proxy keeps serving.
    }
    if (this.#verbose) this.#stderr(`kubectl-mirrord: ${text}\n`);
  }

  /** A warning the user sees once on stderr. */
  warnOnce(text: string): void {
    if (this.#warned.has(text)) return;
    this.#warned.add(text);
    this.line(`warning: ${text}`);
    if (!this.#verbose) this.#stderr(`kubectl-mirrord: ${text}\n`);
  }

  #stderr(text: string): void {
    try {
      process.stderr.write(text);
    } catch {
      // The terminal is gone; the file has it.
    }
  }
}
