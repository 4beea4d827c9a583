/**
 * Which processes `agent.mjs stop` takes for the agent. (The stop itself runs in the e2e test, in a
 * container's mount namespace: run here, on the host, it would signal every agent of the machine.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentServer } from './stop.ts';

test('the agent server is recognised by its entry file; stop, scale-keeper and others are not', () => {
  assert.equal(isAgentServer(['/usr/local/bin/node', '/opt/kubectl-mirrord/agent.mjs']), true);
  assert.equal(isAgentServer(['node', '/repo/agent/main.ts', '--listen', '127.0.0.1:0']), true);
  assert.equal(isAgentServer(['/usr/local/bin/node', '/opt/kubectl-mirrord/agent.mjs', 'stop']), false);
  assert.equal(isAgentServer(['/usr/local/bin/node', '/opt/kubectl-mirrord/agent.mjs', 'scale-keeper']), false);
  assert.equal(isAgentServer(['/bin/sh', '-c', 'exec nsenter ...', 'kubectl-mirrord-agent', '/usr/local/bin/node', '/opt/kubectl-mirrord/agent.mjs']), true);
  assert.equal(isAgentServer(['/usr/local/bin/node', '/srv/app/server.mjs']), false);
  assert.equal(isAgentServer([]), false);
});
