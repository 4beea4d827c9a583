/**
 * The sandbox daemon: one process hosting the API server (with its controllers) and the node.
 * Started detached by `cli.ts up`; stops on SIGTERM/SIGINT (node.stop() removes every pod and the
 * host networking). Writes `.sandbox/kubeconfig`, `.sandbox/state.json` and `.sandbox/daemon.pid`
 * once the API answers.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { SandboxNode } from './contract.ts';
import { startApiServer, type RunningApiServer } from './apiserver/index.ts';
import { writeKubeconfig } from './apiserver/kubeconfig.ts';
import { PATHS, REPO_ROOT } from './apiserver/paths.ts';
import { ensurePki } from './apiserver/pki.ts';
import { createNode } from './node/index.ts';

/** What `status` and the test harness read about the running daemon. */
export interface DaemonState {
  pid: number;
  url: string;
  adminToken: string;
  startedAt: string;
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

async function main(): Promise<void> {
  mkdirSync(PATHS.dir, { recursive: true });
  const pki = ensurePki(PATHS.pki);
  const adminToken = randomBytes(24).toString('hex');
  const restrictedToken = randomBytes(24).toString('hex');
  if (!existsSync(PATHS.rbac)) writeFileSync(PATHS.rbac, '{"deny":[]}\n');
  const node: SandboxNode = createNode({ stateDir: PATHS.dir, repoRoot: REPO_ROOT });
  let api: RunningApiServer | undefined;
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    await api?.close().catch((err) => log(`api close: ${err}`));
    await node.stop().catch((err) => log(`node stop: ${err}`));
    rmSync(PATHS.state, { force: true });
    rmSync(PATHS.pid, { force: true });
    log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    api = await startApiServer({
      pki, port: Number(process.env.SANDBOX_API_PORT ?? 6443), node, rbacPath: PATHS.rbac, logPath: PATHS.apiserverLog,
      tokens: new Map([[adminToken, 'admin'], [restrictedToken, 'restricted']]),
    });
  } catch (err) {
    log(`start failed: ${(err as Error).stack ?? err}`);
    await node.stop().catch(() => undefined);
    process.exit(1);
  }
  writeKubeconfig(PATHS.kubeconfig, { server: api.url, caCert: pki.caCert, tokens: { admin: adminToken, restricted: restrictedToken } });
  const state: DaemonState = { pid: process.pid, url: api.url, adminToken, startedAt: new Date().toISOString() };
  writeFileSync(PATHS.state, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  writeFileSync(PATHS.pid, `${process.pid}\n`);
  log(`ready at ${api.url}`);
}

await main();
