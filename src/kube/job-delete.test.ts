import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { MirrordError } from '../errors.ts';
import { AgentManager } from './agent-manager.ts';
import { deleteJobReported } from './job-delete.ts';

type Answer = { status: number; body?: unknown };

/** An API server that answers each request from `answer`, and records them. */
async function fakeApi(t: { after(fn: () => void): void }, answer: (method: string, path: string) => Answer): Promise<{ ctx: KubeContext; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(`${req.method} ${path}`);
    req.resume();
    req.on('end', () => {
      const { status, body } = answer(req.method ?? '', path);
      const status_ = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: status, reason: status === 403 ? 'Forbidden' : 'NotFound', message: `${status} from the fake API` };
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? status_));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'team-a' }],
    currentContext: 'x',
  });
  return { ctx: { kc, contextName: 'x', server: url, namespace: 'team-a' }, requests };
}

test('a Job delete refused by the API is reported with the kubectl command that deletes it', async (t) => {
  const { ctx, requests } = await fakeApi(t, () => ({ status: 403 }));
  const warnings: string[] = [];
  assert.equal(await deleteJobReported(ctx, 'mirrord-agent-1234', 'the agent', (line) => warnings.push(line)), false);
  assert.deepEqual(requests, ['DELETE /apis/batch/v1/namespaces/team-a/jobs/mirrord-agent-1234']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^could not delete Job mirrord-agent-1234 \(the agent\): .*403 from the fake API.*; delete it with: kubectl delete job -n team-a mirrord-agent-1234$/);
});

test('a Job already gone (404) or deleted now is no warning', async (t) => {
  for (const status of [404, 200]) {
    const { ctx } = await fakeApi(t, () => ({ status, body: status === 200 ? { kind: 'Status', apiVersion: 'v1', status: 'Success' } : undefined }));
    const warnings: string[] = [];
    assert.equal(await deleteJobReported(ctx, 'j', 'the agent', (line) => warnings.push(line)), true, `status ${status}`);
    assert.deepEqual(warnings, []);
  }
});

test('AgentManager: a start that fails and a Job it cannot delete: the start error stands, the Job is reported, twice tried', async (t) => {
  const { ctx, requests } = await fakeApi(t, (method, path) => {
    if (method === 'POST' && path.endsWith('/jobs')) return { status: 201, body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'created' } } };
    return { status: 403 };
  });
  const warnings: string[] = [];
  const manager = new AgentManager(ctx, { image: 'agent:1', idleTimeoutMs: 60_000, startupTimeoutMs: 5_000, cliVersion: '0.0.0', warn: (line) => warnings.push(line) });
  await assert.rejects(manager.start(), (err: unknown) => err instanceof MirrordError && err.exitCode === 4 && !/delete/.test(err.message));
  const deletes = requests.filter((r) => r.startsWith('DELETE'));
  assert.equal(deletes.length, 1);
  const job = deletes[0].split('/').pop();
  assert.match(warnings.join('\n'), new RegExp(`delete it with: kubectl delete job -n team-a ${job}$`));
  // Still there, so the exit cleanup tries again and says so again.
  await manager.cleanup();
  assert.equal(requests.filter((r) => r.startsWith('DELETE')).length, 2);
  assert.equal(warnings.length, 2);
});
