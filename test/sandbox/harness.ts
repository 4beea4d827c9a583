/**
 * The sandbox for tests: `startSandbox()` reuses a running sandbox or starts one, and `stop()` brings
 * it down again only when no other test process still uses it and a harness (not a developer's
 * `up`) started it. Leases are files in `.sandbox/leases/<pid>`; the lifecycle lock makes
 * start and stop atomic across the test processes `node --test` runs in parallel.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxGet } from './apiserver/client.ts';
import { PATHS } from './apiserver/paths.ts';
import { down, isAlive, readState, up, withLock } from './lifecycle.ts';

const LEASES = join(PATHS.dir, 'leases');
/** Present while a harness-started sandbox runs; a sandbox from `npm run sandbox -- up` is never stopped by tests. */
const HARNESS_MARK = join(PATHS.dir, 'started-by-harness');

export interface Sandbox {
  kubeconfigPath: string;
  apiUrl: string;
  /** Releases this process's use; the last user of a harness-started sandbox stops it. */
  stop(): Promise<void>;
}

function liveLeases(): number[] {
  if (!existsSync(LEASES)) return [];
  return readdirSync(LEASES).map(Number).filter((pid) => pid !== process.pid && isAlive(pid));
}

/** Starts (or reuses) the sandbox. Needs root on Linux. */
export async function startSandbox(): Promise<Sandbox> {
  const state = await withLock(async () => {
    const result = await up();
    if (result.started) writeFileSync(HARNESS_MARK, `${process.pid}\n`);
    mkdirSync(LEASES, { recursive: true });
    writeFileSync(join(LEASES, String(process.pid)), '');
    return result.state;
  });
  let stopped = false;
  return {
    kubeconfigPath: PATHS.kubeconfig,
    apiUrl: state.url,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await withLock(async () => {
        rmSync(join(LEASES, String(process.pid)), { force: true });
        if (existsSync(HARNESS_MARK) && liveLeases().length === 0) await down();
      });
    },
  };
}

/** One sample of `apiserver_request_total`. */
export interface RequestSample {
  verb: string;
  resource: string;
  subresource: string;
  code: string;
  count: number;
}

/** The API server's request counters, parsed from /metrics. */
export async function sandboxMetrics(): Promise<RequestSample[]> {
  const state = readState();
  if (!state) throw new Error('the sandbox is not running: start it with startSandbox() or `npm run sandbox -- up`');
  const res = await sandboxGet(state.url, '/metrics', readFileSync(join(PATHS.pki, 'ca.crt')), state.adminToken);
  const samples: RequestSample[] = [];
  for (const line of res.body.split('\n')) {
    const m = /^apiserver_request_total\{(.*)\} (\d+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    samples.push({ verb: labels.verb, resource: labels.resource, subresource: labels.subresource, code: labels.code, count: Number(m[2]) });
  }
  return samples;
}

/** Sums the counters matching `filter`, e.g. `{ verb: 'CONNECT', subresource: 'portforward' }`. */
export async function countRequests(filter: Partial<Omit<RequestSample, 'count'>>): Promise<number> {
  const samples = await sandboxMetrics();
  return samples
    .filter((s) => Object.entries(filter).every(([k, v]) => s[k as keyof RequestSample] === v))
    .reduce((n, s) => n + s.count, 0);
}

/** The admin bearer token of the running sandbox (for tests that talk HTTP directly). */
export function adminToken(): string {
  const state = readState();
  if (!state) throw new Error('the sandbox is not running');
  return state.adminToken;
}

/** Writes `.sandbox/rbac.json` (re-read by the API server on every request). */
export function setRbacDenials(deny: Array<Record<string, string>>): void {
  writeFileSync(PATHS.rbac, `${JSON.stringify({ deny }, null, 2)}\n`);
}
