/**
 * AgentManager against a played API server (test/support/fake-portforward-server.ts with REST
 * answers) and the real agent: a reconnect that finds the agent's pod gone replaces the agent, and
 * a failed delete of the old Job is reported with the kubectl command, not dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { AgentServer } from '../../agent/server.ts';
import { silentLog } from '../../agent/log.ts';
import { startFakePortForwardServer } from '../../test/support/fake-portforward-server.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { AgentManager } from './agent-manager.ts';

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const status = (code: number, message: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, message, reason: code === 403 ? 'Forbidden' : 'NotFound' });

/**
 * A cluster where every created Job gets a running pod with a real agent behind its portforward,
 * reading a pod by name is 404 (the pod is gone), and deleting a Job is forbidden.
 */
async function playedCluster(t: { after(fn: () => Promise<void>): void }) {
  const agents: AgentServer[] = [];
  const jobs: string[] = [];
  const requests: string[] = [];
  let agentPort = 0;
  const fake = await startFakePortForwardServer({
    targetPort: () => agentPort,
    rest: (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${url.pathname}`);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        if (req.method === 'POST' && url.pathname === '/apis/batch/v1/namespaces/team-a/jobs') {
          const job = JSON.parse(Buffer.concat(chunks).toString());
          const env = job.spec.template.spec.containers[0].env as Array<{ name: string; value: string }>;
          const agent = new AgentServer({
            host: '127.0.0.1', port: 0, log: silentLog, idleTimeoutMs: 1_000, onIdle: () => {},
            tokenSha256: Buffer.from(env.find((e) => e.name === 'MIRRORD_AGENT_TOKEN_SHA256')!.value, 'hex'),
          });
          agents.push(agent);
          agentPort = (await agent.listen()).port;
          jobs.push(job.metadata.name);
          json(res, 201, job);
        } else if (req.method === 'GET' && url.pathname === '/api/v1/namespaces/team-a/pods') {
          const pod = { metadata: { name: `${jobs.at(-1)}-x1y2z`, resourceVersion: '1' }, status: { phase: 'Running', containerStatuses: [{ name: 'agent', state: { running: {} } }] } };
          json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [pod] });
        } else if (req.method === 'DELETE') {
          json(res, 403, status(403, 'jobs.batch is forbidden: User "dev" cannot delete resource "jobs"'));
        } else {
          json(res, 404, status(404, 'not found'));
        }
      });
    },
  });
  t.after(async () => {
    await fake.close();
    await Promise.all(agents.map((a) => a.close()));
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: fake.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'team-a' }],
    currentContext: 'x',
  });
  const ctx: KubeContext = { kc, contextName: 'x', server: fake.url, namespace: 'team-a' };
  return { ctx, jobs, requests };
}

test('a reconnect that replaces the agent reports the old Job it could not delete; cleanup waits for that delete', async (t) => {
  const { ctx, jobs, requests } = await playedCluster(t);
  const warnings: string[] = [];
  const manager = new AgentManager(ctx, { image: 'agent:1', idleTimeoutMs: 60_000, startupTimeoutMs: 10_000, cliVersion: '0.0.0', warn: (line) => warnings.push(line) });
  const first = await manager.start();
  first.destroy();
  const second = await manager.reconnect();
  t.after(() => second.destroy());
  assert.equal(jobs.length, 2, 'the pod was gone, so a new agent was made');
  assert.notEqual(manager.agent?.jobName, jobs[0]);
  await manager.cleanup();
  const deletes = requests.filter((r) => r.startsWith('DELETE'));
  assert.ok(deletes.includes(`DELETE /apis/batch/v1/namespaces/team-a/jobs/${jobs[0]}`), deletes.join('\n'));
  assert.ok(deletes.includes(`DELETE /apis/batch/v1/namespaces/team-a/jobs/${jobs[1]}`), deletes.join('\n'));
  for (const job of jobs) {
    assert.ok(warnings.some((w) => w.endsWith(`delete it with: kubectl delete job -n team-a ${job}`) && /forbidden/.test(w)), `${job}:\n${warnings.join('\n')}`);
  }
});
