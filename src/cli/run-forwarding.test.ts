import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MirrordError } from '../errors.ts';
import { planForwarding } from './forwarding-options.ts';
import { runForwarding } from './run-forwarding.ts';

/** An API server on plain http that answers 404 to everything and counts what it was asked. */
async function plainHttpApi(t: { after(fn: () => void): void }): Promise<{ kubeconfig: string; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 404, message: 'not found' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'insecure-link-'));
  const kubeconfig = join(dir, 'config');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: plain',
    'clusters:', `- name: plain`, '  cluster:', `    server: ${url}`, '    insecure-skip-tls-verify: true',
    'users:', '- name: u', '  user:', '    token: secret',
    'contexts:', '- name: plain', '  context:', '    cluster: plain', '    user: u', '    namespace: default', '',
  ].join('\n'));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { kubeconfig, url, requests };
}

test('an http:// API server is refused for the agent link before anything reaches the cluster', async (t) => {
  const api = await plainHttpApi(t);
  const plan = planForwarding({ socks: '0', kubeconfig: api.kubeconfig }, {});
  await assert.rejects(runForwarding(plan), (err: unknown) => {
    assert.ok(err instanceof MirrordError);
    assert.equal(err.code, 'EINSECURELINK');
    assert.equal(err.exitCode, 3);
    assert.ok(err.message.includes(api.url), err.message);
    assert.match(err.hint ?? '', /--insecure-agent-link/);
    return true;
  });
  assert.deepEqual(api.requests, []);
});

test('--insecure-agent-link lets the same kubeconfig through to the cluster', async (t) => {
  const api = await plainHttpApi(t);
  const plan = planForwarding({ socks: '0', kubeconfig: api.kubeconfig, insecureAgentLink: true }, {});
  await assert.rejects(runForwarding(plan), (err: unknown) => err instanceof MirrordError && err.code !== 'EINSECURELINK');
  assert.ok(api.requests.length > 0);
});
