/**
 * The sandbox runs images from OCI archives as a node does, checked with kubectl against the agent
 * image: the tag must exist in the archive (the kubelet's pull error, as for a registry), the image's USER applies (so runAsNonRoot passes
 * without runAsUser), the container sees the image's root and nothing of the host's, `kubectl
 * exec` works in it, and the container's process carries its container id in /proc/<pid>/cgroup.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { startSandbox, type Sandbox } from './harness.ts';
import { VERSION as CLI_VERSION } from '../../src/version.ts';

const run = promisify(execFile);
const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
let sandbox: Sandbox;

before(async () => {
  if (isRoot) sandbox = await startSandbox();
});
after(async () => {
  await sandbox?.stop();
});

async function kubectl(args: string[]): Promise<string> {
  return (await run('kubectl', args, { env: { ...process.env, KUBECONFIG: sandbox.kubeconfigPath } })).stdout;
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const pod = (name: string, image: string, extra: object = {}) => JSON.stringify({
  apiVersion: 'v1', kind: 'Pod', metadata: { name },
  spec: {
    restartPolicy: 'Never',
    securityContext: { runAsNonRoot: true },
    containers: [{ name: 'c', image, command: ['/usr/local/bin/node', '-e', 'setInterval(() => {}, 1000)'], ...extra }],
  },
});

async function apply(manifest: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('kubectl', ['apply', '-f', '-'], { env: { ...process.env, KUBECONFIG: sandbox.kubeconfigPath } }, (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(manifest);
  });
}

test('a tag the archive lacks cannot be pulled (ErrImagePull, then ImagePullBackOff)', { skip: !isRoot && 'needs root on Linux' }, async () => {
  await apply(pod('oci-wrong-tag', 'ghcr.io/kubectl-mirrord/agent:0.0.0-none'));
  let message = '';
  await waitFor(async () => {
    const status = JSON.parse(await kubectl(['get', 'pod', 'oci-wrong-tag', '-o', 'json'])).status;
    message = status.containerStatuses?.[0]?.state?.waiting?.message ?? '';
    return /ErrImagePull|ImagePullBackOff/.test(status.containerStatuses?.[0]?.state?.waiting?.reason ?? '');
  }, 'the pull error');
  assert.match(message, /tag 0\.0\.0-none not found|Back-off pulling image/);
  await kubectl(['delete', 'pod', 'oci-wrong-tag', '--wait=false']);
});

test('the image\'s USER, its root alone, exec inside it, and its container id in /proc/<pid>/cgroup', { skip: !isRoot && 'needs root on Linux' }, async () => {
  await apply(pod('oci-agent', `ghcr.io/kubectl-mirrord/agent:${CLI_VERSION}`));
  await kubectl(['wait', '--for=condition=Ready', 'pod/oci-agent', '--timeout=60s']);
  const probe = 'console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), curl: fs.existsSync("/usr/bin/curl"), agent: fs.existsSync("/opt/kubectl-mirrord/agent.mjs"), repo: fs.existsSync(process.argv[1]) }))';
  const out = JSON.parse(await kubectl(['exec', 'oci-agent', '--', '/usr/local/bin/node', '-e', probe, process.cwd()]));
  assert.deepEqual(out, { uid: 65532, gid: 65532, curl: false, agent: true, repo: false }, 'the image\'s user; the image\'s files and none of the host\'s');
  const { status, metadata: { uid } } = JSON.parse(await kubectl(['get', 'pod', 'oci-agent', '-o', 'json']));
  const id = (status.containerStatuses[0].containerID as string).replace('containerd://', '');
  const inCgroup = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/kubepods/besteffort/pod${uid}/${id}`); } catch { return false; }
  });
  assert.ok(inCgroup.length >= 1, `a process in cgroup .../${id}`);
  await kubectl(['delete', 'pod', 'oci-agent', '--wait=false']);
});
