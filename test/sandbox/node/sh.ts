/**
 * Runs host tools (ip, iptables-restore, nsenter) for the sandbox node. Every failure names the
 * command line and what the tool printed, because "exit code 2" alone never says which rule was bad.
 */
import { execFile } from 'node:child_process';

/** What `sh` reports when a tool exits non-zero. */
export class CommandError extends Error {
  readonly code = 'SANDBOX_NODE_COMMAND_FAILED';
  readonly stderr: string;
  constructor(argv: string[], stderr: string, cause: unknown) {
    super(`\`${argv.join(' ')}\` failed: ${stderr.trim() || String(cause)}`);
    this.stderr = stderr;
  }
}

/**
 * Runs `file args...` and resolves to its stdout. `input` is written to stdin. Rejects with
 * `CommandError` on a non-zero exit, unless `allowFail` (then resolves to '' instead).
 */
export function sh(file: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if (opts.allowFail) return resolve('');
      reject(new CommandError([file, ...args], stderr, err));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
