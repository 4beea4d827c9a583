/**
 * Faults end to end on the sandbox: the agent dies mid-session, --exit-on-disconnect, and the
 * fault suite's scenarios (test/faults/, which `npm run faults` runs to print its table) asserted
 * with wide margins: no timing is a goal here, only whether things came back and what was left.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { REPO, agentPid, curl, kubectl, kubectlJson, startCli, summaryPort } from './cli-process.ts';
import type { FaultEnv } from '../faults/fault-env.ts';
import { killAllDuringSteal, stopAgentDuringSteal } from '../faults/steal-faults.ts';
import { agentPodDeleted, apiConnectionCut, cliKilled, interruptDuringStartup } from '../faults/link-faults.ts';
import { randomBytesIntoPorts, thousandSocksConnections } from '../faults/input-faults.ts';

let sandbox: Sandbox;
let env: FaultEnv;

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-info', '--timeout=60s']);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-visit-counter', '--timeout=60s']);
  const svc = await kubectlJson(sandbox.kubeconfigPath, ['get', 'service', 'ip-visit-counter']);
  env = { kubeconfig: sandbox.kubeconfigPath, serviceUrl: `http://${svc.spec.clusterIP}` };
});

after(async () => {
  await sandbox?.stop();
});

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

test('kill -9 of the CLI: its port is gone, the agent exits after its idle timeout', async () => {
  const seen = await cliKilled(env);
  assert.match(seen.portsBound, /^none/, seen.portsBound);
  assert.ok(seen.agentStoppedMs !== undefined, 'the agent pod stopped by itself');
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

test('agent and guard SIGKILLed at once during a steal: the Service answers from the pod again, and the leftover cleanup leaves no rule', async () => {
  const seen = await killAllDuringSteal(env);
  assert.ok(seen.killed >= 2, `the agent and its guard were found by ${'/opt/kubectl-mirrord/'} and killed (${seen.killed})`);
  assert.ok(seen.remoteAnswered, `the target's own app answers within 120 s (documented bound 8 s): ${seen.notes.join('; ')}`);
  assert.ok(seen.notes.some((n) => /a second session steals again: "local \/count"/.test(n)), seen.notes.join('; '));
  assert.deepEqual(seen.rulesAfterCleanup, [], 'no chain, rule or ipset of ours after the next agent cleaned up and ended');
});

test('agent SIGSTOPped for 40 s during a steal: the steal lapses, the target answers, and after SIGCONT the steal comes back', async () => {
  const seen = await stopAgentDuringSteal(env);
  assert.ok(seen.lapsedMs !== undefined, `the target answered its own traffic while the agent was stopped: ${seen.notes.join('; ')}`);
  assert.ok(seen.resumedMs !== undefined, `the steal came back after SIGCONT: ${seen.notes.join('; ')}`);
  assert.deepEqual(seen.rulesLeft, [], 'Ctrl-C afterwards leaves no rule');
});

test('the agent pod deleted: the -L port stays bound and answers again; nothing is left after Ctrl-C', async () => {
  const seen = await agentPodDeleted(env);
  assert.equal(seen.portsBound, '-L port stayed bound');
  assert.ok(seen.recoveryMs !== undefined, seen.notes.join('; '));
  assert.deepEqual(seen.jobsLeft, []);
});

test('Ctrl-C during agent start-up: exit code 130 and no Job left', async () => {
  const seen = await interruptDuringStartup(env);
  assert.equal(seen.exitCode, 130);
  assert.deepEqual(seen.jobsLeft, []);
});

test('the API server connection cut mid-transfer: the -L port stays bound, traffic flows again, no answer is corrupted', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'kmrd-faults-'));
  try {
    const seen = await apiConnectionCut(env, scratch);
    assert.equal(seen.portsBound, '-L port stayed bound');
    assert.ok(seen.recoveryMs !== undefined, seen.notes.join('; '));
    assert.match(seen.dataLoss, /^none/, seen.dataLoss);
    assert.deepEqual(seen.jobsLeft, []);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('1,000 concurrent SOCKS5 connections: every one is answered whole, and SOCKS works after', async () => {
  const seen = await thousandSocksConnections(env);
  assert.equal(seen.failed, 0, seen.dataLoss);
  assert.ok(seen.notes.some((n) => n.includes('"ok"')), seen.notes.join('; '));
});

test('random bytes into the SOCKS port, the agent\'s port and a -L port: the session goes on', async () => {
  const seen = await randomBytesIntoPorts(env);
  assert.ok(seen.allWorkAfter, `${seen.recovery}; ${seen.dataLoss}; ${seen.notes.join('; ')}`);
  assert.equal(seen.portsBound, 'both local ports stayed bound');
});
