/**
 * `npm run sandbox -- up|down|status`: the sandbox cluster's lifecycle.
 * - up: starts the daemon (or finds the running one) and prints `export KUBECONFIG=...`.
 * - down: stops it, cleans the host, removes runtime files (keeps .sandbox/pki).
 * - status: running or not, API URL, number of pods.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxGet } from './apiserver/client.ts';
import { PATHS } from './apiserver/paths.ts';
import { down, isReady, readState, requireRoot, up, withLock } from './lifecycle.ts';

const USAGE = 'usage: npm run sandbox -- <up|down|status>';

async function status(): Promise<void> {
  const state = readState();
  if (!(await isReady(state))) {
    console.log('sandbox: not running');
    return;
  }
  const ca = readFileSync(join(PATHS.pki, 'ca.crt'));
  const pods = await sandboxGet(state!.url, '/api/v1/pods', ca, state!.adminToken);
  const count = pods.status === 200 ? (JSON.parse(pods.body) as { items: unknown[] }).items.length : 'unknown';
  console.log(`sandbox: running (pid ${state!.pid})\nAPI: ${state!.url}\nkubeconfig: ${PATHS.kubeconfig}\npods: ${count}`);
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'up': {
      requireRoot();
      const { started } = await withLock(up);
      if (!started) console.error('sandbox: already running');
      console.log(`export KUBECONFIG=${PATHS.kubeconfig}`);
      return;
    }
    case 'down': {
      requireRoot();
      const removed = await withLock(down);
      console.log(removed.length ? `sandbox: stopped; removed ${removed.join(', ')}` : 'sandbox: nothing to stop');
      return;
    }
    case 'status':
      return status();
    default:
      console.error(`error: unknown command ${command ? `"${command}"` : '(none)'}\n${USAGE}`);
      process.exitCode = 2;
  }
}

try {
  await main(process.argv[2]);
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exitCode = 1;
}
