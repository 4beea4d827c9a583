/**
 * The commands the demo runs and prints: `kubectl mirrord ...` as a background process (see
 * background.ts), curl as a client, and the text a user types to do the same in another terminal
 * (from the repository root, with the environment `shellSetup` prints).
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { realpathSync } from 'node:fs';
import { join, relative } from 'node:path';
import { blockedArgv } from '../../test/support/exec-blocked.ts';
import { startBackground, type Background } from './background.ts';
import { DEMO_ENV, KUBECONFIG, REPO } from './context.ts';

/** The Node that runs the exec'd copy: the repo's own (Node 24), as the demo itself runs. */
export const NODE = process.execPath;

/** `NODE` as a user types it from the repository root: `node_modules/.bin/node` when that is it. */
export function nodeForUser(): string {
  const bin = join(REPO, 'node_modules', '.bin', 'node');
  try {
    if (realpathSync(bin) === realpathSync(NODE)) return relative(REPO, bin);
  } catch {
    // no node_modules/.bin/node: name the running Node itself
  }
  const rel = relative(REPO, NODE);
  return rel.startsWith('..') ? NODE : rel;
}

/** Lines to paste into another terminal (at the repository root) so the printed commands work there. */
export function shellSetup(): string[] {
  return [`cd ${REPO}`, `export KUBECONFIG=${KUBECONFIG} PATH=$PWD/bin:$PATH`];
}

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** Starts `kubectl mirrord ARGS` (through kubectl's plugin mechanism, as a user runs it). */
export function startMirrord(name: string, args: string[]): Background {
  return startBackground(name, ['kubectl', 'mirrord', ...args], { env: DEMO_ENV, cwd: REPO });
}

/**
 * Starts `kubectl mirrord exec ARGS` with no route from this machine to the sandbox's pods and
 * Services (test/sandbox/node/exec-block.ts), as on a laptop: whatever the program reaches in
 * the cluster it reaches through kubectl-mirrord. `note` hears why when that context is missing
 * (a host without cgroup v2); the program then runs in the plain context.
 */
export function startExec(name: string, args: string[], note: (line: string) => void): Background {
  const argv = ['kubectl', 'mirrord', 'exec', ...args];
  let contained = argv;
  try {
    contained = blockedArgv(argv);
  } catch (err) {
    note(`running exec without the no-route context: ${(err as Error).message}`);
  }
  return startBackground(name, contained, { env: DEMO_ENV, cwd: REPO });
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** curl -sS --max-time 15 ARGS; never throws (a failure is a nonzero `code` with curl's stderr). */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '15', ...args], { env: DEMO_ENV }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr: err && !stderr ? err.message : stderr });
    });
  });
}

/** curl's result as evidence: the command, the exit code, and what it printed. */
export function curlEvidence(args: string[], r: CurlResult): string {
  return [`$ curl ${commandLine(args)}`, `exit ${r.code}`, r.stdout.trimEnd(), r.stderr.trimEnd()].filter(Boolean).join('\n');
}

/**
 * Resolves once `port` could be listened on (all addresses, as the copy of the demo app listens),
 * and closed again; rejects with the listen error (EADDRINUSE) otherwise.
 */
export function portIsFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, () => server.close(() => resolve()));
  });
}
