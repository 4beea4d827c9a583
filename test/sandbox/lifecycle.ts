/**
 * Starting, stopping and inspecting the sandbox daemon; shared by `cli.ts` (up/down/status) and
 * `harness.ts` (tests). One lock directory serialises up and down across processes, so test files
 * running in parallel start one sandbox, not several.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { sandboxGet } from './apiserver/client.ts';
import { PATHS } from './apiserver/paths.ts';
import type { DaemonState } from './daemon.ts';
import { stageAgentImage } from './agent-image.ts';

const LOCK_DIR = join(PATHS.dir, 'lock');
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 20_000;

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readState(): DaemonState | undefined {
  try {
    return JSON.parse(readFileSync(PATHS.state, 'utf8')) as DaemonState;
  } catch {
    return undefined;
  }
}

function caCert(): Buffer {
  return readFileSync(join(PATHS.pki, 'ca.crt'));
}

/** True when the daemon in `state` runs and its /readyz answers ok. */
export async function isReady(state: DaemonState | undefined): Promise<boolean> {
  if (!state || !isAlive(state.pid)) return false;
  try {
    const res = await sandboxGet(state.url, '/readyz', caCert());
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Runs `fn` holding the sandbox lock (a directory holding the owner's pid; stale owners are evicted). */
export async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(PATHS.dir, { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      closeSync(openSync(join(LOCK_DIR, String(process.pid)), 'w'));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owners = existsSync(LOCK_DIR) ? readdirSync(LOCK_DIR).map(Number) : [];
      if (owners.length > 0 && !owners.some(isAlive)) rmSync(LOCK_DIR, { recursive: true, force: true });
      await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/** Throws unless this is Linux and we are root: the node creates network namespaces and iptables rules. */
export function requireRoot(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error('the sandbox must run as root on Linux: it creates network namespaces, veth links and iptables rules. Run it as root (e.g. `sudo npm run sandbox -- up`) in a Linux VM or container.');
  }
}

async function runCleanupHost(): Promise<void> {
  const { cleanupHost } = await import('./node/index.ts');
  await cleanupHost();
}

/** Removes runtime files (everything in .sandbox/ but pki/ and the lock); returns what it removed. */
export function removeRuntimeFiles(): string[] {
  if (!existsSync(PATHS.dir)) return [];
  const removed: string[] = [];
  for (const entry of readdirSync(PATHS.dir)) {
    if (entry === 'pki' || entry === 'lock') continue;
    rmSync(join(PATHS.dir, entry), { recursive: true, force: true });
    removed.push(join(PATHS.dir, entry));
  }
  return removed;
}

async function waitReady(child: { exitCode: number | null }): Promise<DaemonState> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const state = readState();
    if (await isReady(state)) return state!;
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  let tail = '';
  try {
    tail = readFileSync(PATHS.daemonLog, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    tail = '(no daemon log)';
  }
  throw new Error(`the sandbox daemon did not become ready (log ${PATHS.daemonLog}):\n${tail}`);
}

/** Starts the daemon unless a healthy one runs. Caller holds the lock. */
export async function up(): Promise<{ state: DaemonState; started: boolean }> {
  requireRoot();
  const existing = readState();
  if (await isReady(existing)) return { state: existing!, started: false };
  if (existing && isAlive(existing.pid)) throw new Error(`a sandbox daemon (pid ${existing.pid}) runs but does not answer at ${existing.url}; run \`npm run sandbox -- down\` first`);
  await runCleanupHost();
  removeRuntimeFiles();
  mkdirSync(PATHS.dir, { recursive: true });
  stageAgentImage(join(PATHS.dir, 'images'));
  const logFd = openSync(PATHS.daemonLog, 'a');
  const daemon = fileURLToPath(new URL('./daemon.ts', import.meta.url));
  const child = spawn(process.execPath, [daemon], { detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  child.unref();
  return { state: await waitReady(child), started: true };
}

/** Stops the daemon (SIGTERM, then SIGKILL), cleans the host and removes runtime files. Caller holds the lock. */
export async function down(): Promise<string[]> {
  const pidText = existsSync(PATHS.pid) ? readFileSync(PATHS.pid, 'utf8').trim() : String(readState()?.pid ?? '');
  const pid = Number(pidText);
  if (pid > 0 && isAlive(pid)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  if (process.platform === 'linux' && process.getuid?.() === 0) await runCleanupHost();
  return removeRuntimeFiles();
}
