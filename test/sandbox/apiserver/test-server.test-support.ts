/** Starts an in-process API server with a fake node for tests; returns a client-node KubeConfig too. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createFakeNode, type FakeNode } from './fake-node.test-support.ts';
import { startApiServer, type RunningApiServer } from './index.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { ensurePki } from './pki.ts';

/** An in-process API server on a free port, with clients for both users. */
export interface TestServer {
  api: RunningApiServer;
  node: FakeNode;
  kc: KubeConfig;
  restrictedKc: KubeConfig;
  kubeconfigPath: string;
  rbacPath: string;
  ca: Buffer;
  tokens: { admin: string; restricted: string };
  close(): Promise<void>;
}

/** Starts a TestServer; `watchHistory` shortens the watch history to reach 410 quickly. */
export async function startTestServer(watchHistory?: number): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-api-'));
  const pki = ensurePki(join(dir, 'pki'));
  const tokens = { admin: 'admin-token', restricted: 'restricted-token' };
  const rbacPath = join(dir, 'rbac.json');
  writeFileSync(rbacPath, '{"deny":[]}');
  const node = createFakeNode();
  const api = await startApiServer({ pki, port: 0, node, rbacPath, tokens: new Map([[tokens.admin, 'admin'], [tokens.restricted, 'restricted']]), watchHistory });
  const text = renderKubeconfig({ server: api.url, caCert: pki.caCert, tokens });
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, text);
  const kc = new KubeConfig();
  kc.loadFromString(text);
  const restrictedKc = new KubeConfig();
  restrictedKc.loadFromString(text);
  restrictedKc.setCurrentContext('sandbox-restricted');
  return {
    api, node, kc, restrictedKc, kubeconfigPath, rbacPath, ca: pki.caCert, tokens,
    close: async () => {
      await api.close();
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` every 20 ms until it returns a truthy value or `ms` pass. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms: ${check.toString()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
