/**
 * The targeted agent's Job fallback (`--agent-mode job`) end to end, from the real agent image: a
 * Job on the target's node with hostPID whose shell step finds the target container's process by
 * the container id in /proc/<pid>/cgroup (the sandbox lays cgroups out as containerd does) and
 * enters its network namespace with nsenter, all from the image's own sh, grep and nsenter; then
 * -R --steal through the demo Service with real curl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, podNat, startCli, waitUntil } from './cli-process.ts';

let sandbox: Sandbox;

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-visit-counter', '--timeout=60s']);
});

after(async () => {
  await sandbox?.stop();
});

/** Host pids whose /proc/<pid>/cgroup names `id`. */
function pidsInContainer(id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(id)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

test('--agent-mode job: the Job agent from the image finds the target by its cgroup and steals its port', async () => {
  const kc = sandbox.kubeconfigPath;
  const pods = (await kubectlJson(kc, ['get', 'pods', '-l', 'app=ip-visit-counter'])).items.filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  const pod = pods[0];
  const containerId = (pod.status.containerStatuses[0].containerID as string).replace(/^containerd:\/\//, '');
  assert.ok(pidsInContainer(containerId).length > 0, 'the target container\'s processes show its id in /proc/<pid>/cgroup');

  const requests: string[] = [];
  const server = http.createServer((req, res) => { requests.push(req.url ?? ''); res.end(`local ${req.url}`); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const appPort = (server.address() as net.AddressInfo).port;
  const svc = await kubectlJson(kc, ['get', 'service', 'ip-visit-counter']);
  const cli = startCli(['port-forward', '-t', 'deployment/ip-visit-counter', '--agent-mode', 'job', '--agent-idle-timeout', '3s', '-R', `8080:${appPort}`, '--steal'], kc);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const jobs = (await kubectlJson(kc, ['get', 'jobs', '-l', 'app.kubernetes.io/name=kubectl-mirrord-agent'])).items;
    assert.equal(jobs.length, 1, 'a Job agent, not an ephemeral container');
    const jobPod = jobs[0].spec.template.spec;
    assert.equal(jobPod.hostPID, true);
    assert.equal(jobPod.containers[0].command[0], '/bin/sh', 'the shell step of the image runs first');
    assert.equal((await kubectlJson(kc, ['get', 'pod', pod.metadata.name])).spec.ephemeralContainers, undefined, 'nothing was added to the target pod');
    const stolen = await curl([`http://${svc.spec.clusterIP}/count`]);
    assert.equal(stolen.stdout, 'local /count', stolen.stderr);
    assert.deepEqual(requests, ['/count']);
    assert.match(await podNat(pod.metadata.uid), /KMRD/, 'the rules sit in the target pod\'s network namespace');
    assert.equal(await cli.interrupt(), 130);
    await waitUntil(async () => !/KMRD/.test(await podNat(pod.metadata.uid, 'both')), 'no KMRD rule is left in the target pod');
    const after = await curl([`http://${svc.spec.clusterIP}/count`]);
    assert.match(after.stdout, /"count":\s*\d+/, `the pod answers again: ${after.stdout}`);
  } finally {
    cli.child.kill('SIGKILL');
    server.closeAllConnections();
    server.close();
  }
});
