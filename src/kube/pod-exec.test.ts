import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execUrl, statusExitCode } from './pod-exec.ts';

test('the exec URL: wss, path prefix kept, the command as repeated parameters', () => {
  const url = execUrl('https://k8s.example:6443/prefix', { namespace: 'shop', pod: 'web-1', container: 'mirrord-agent-1a2b3c4d', command: ['/usr/local/bin/node', '/opt/kubectl-mirrord/agent.mjs', 'stop'] });
  assert.equal(url.protocol, 'wss:');
  assert.equal(url.pathname, '/prefix/api/v1/namespaces/shop/pods/web-1/exec');
  assert.deepEqual(url.searchParams.getAll('command'), ['/usr/local/bin/node', '/opt/kubectl-mirrord/agent.mjs', 'stop']);
  assert.equal(url.searchParams.get('container'), 'mirrord-agent-1a2b3c4d');
  assert.equal(url.searchParams.get('stdin'), null);
  assert.equal(execUrl('http://127.0.0.1:8080', { namespace: 'a', pod: 'b', container: 'c', command: ['x'] }).protocol, 'ws:');
});

test('the exit code from the v4 Status', () => {
  assert.equal(statusExitCode({ status: 'Success' }), 0);
  assert.equal(statusExitCode({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } }), 3);
  assert.equal(statusExitCode({ status: 'Failure', reason: 'InternalError' }), -1);
});
