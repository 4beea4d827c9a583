/**
 * Faults end to end on the sandbox: the agent dies mid-session, the CLI is killed with SIGKILL,
 * --exit-on-disconnect.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, agentPid, curl, kubectl, kubectlJson, startCli, summaryPort } from './cli-process.ts';

let sandbox: Sandbox;

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-info', '--timeout=60s']);
});

after(async () => {
  await sandbox?.stop();
});

async function podPhase(podName: string): Promise<string> {
  const list = await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '--field-selector', `metadata.name=${podName}`]);
  return list.items[0]?.status?.phase ?? 'Gone';
}

test('the agent process is killed mid-session: ports stay bound, in-flight connections fail, new ones work after the reconnect', async () => {
  const kc = sandbox.kubeconfigPath;
  const cli = startCli(['port-forward', '-L', '0:ip-info:80'], kc);
  try {
    const [, podName] = await cli.waitFor(/agent ready in [\d.]+ s \(pod (\S+)\)/);
    await cli.waitFor(/Ctrl-C to stop/);
    const port = summaryPort(cli.output(), '→ ip-info:80');
    assert.equal((await curl([`http://127.0.0.1:${port}/health`])).stdout.trim(), 'ok');

    // An in-flight connection: a request sent, the keep-alive connection left open.
    const inflight = net.connect(port, '127.0.0.1');
    inflight.write('GET /health HTTP/1.1\r\nHost: ip-info\r\n\r\n');
    await once(inflight, 'data');
    const inflightClosed = new Promise<void>((resolve) => inflight.on('close', () => resolve()));
    inflight.on('error', () => {});

    process.kill(await agentPid(kc, podName), 'SIGKILL');
    await cli.waitFor(/agent connection lost/);
    await inflightClosed;

    // Straight away, while the CLI reconnects: the connection waits for the new session.
    const after = await curl([`http://127.0.0.1:${port}/health`]);
    assert.equal(after.stdout.trim(), 'ok', `${after.stderr}\n${cli.output()}`);
    const [, newPod] = await cli.waitFor(/reconnected to the agent \(pod (\S+)\)/);
    assert.notEqual(newPod, podName, 'a new agent replaced the dead one');
    assert.equal((cli.output().match(/agent connection lost/g) ?? []).length, 1, 'the user is told once');

    assert.equal(await cli.interrupt(), 130);
    const jobs = await kubectlJson(kc, ['get', 'jobs', '-l', 'app.kubernetes.io/name=kubectl-mirrord-agent']);
    const ours = jobs.items.filter((j: any) => [podName, newPod].some((p) => p.startsWith(j.metadata.name)));
    assert.deepEqual(ours.map((j: any) => j.metadata.name), [], 'both Jobs are deleted');
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('kill -9 of the CLI: the agent exits after its idle timeout', async () => {
  const cli = startCli(['socks', '0', '--agent-idle-timeout', '2s'], sandbox.kubeconfigPath);
  const [, podName] = await cli.waitFor(/agent ready in [\d.]+ s \(pod (\S+)\)/);
  assert.equal(await podPhase(podName), 'Running');
  cli.child.kill('SIGKILL');
  await cli.exited;
  const deadline = Date.now() + 20_000;
  let phase = await podPhase(podName);
  while (phase === 'Running' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    phase = await podPhase(podName);
  }
  assert.notEqual(phase, 'Running', 'the agent pod stopped by itself');
});

test('--exit-on-disconnect: a dropped agent connection ends the CLI with exit code 7', async () => {
  const kc = sandbox.kubeconfigPath;
  const cli = startCli(['socks', '0', '--exit-on-disconnect'], kc);
  try {
    const [, podName] = await cli.waitFor(/agent ready in [\d.]+ s \(pod (\S+)\)/);
    process.kill(await agentPid(kc, podName), 'SIGKILL');
    assert.equal(await cli.exited, 7);
    assert.match(cli.output(), /error: the agent connection dropped/);
  } finally {
    cli.child.kill('SIGKILL');
  }
});
