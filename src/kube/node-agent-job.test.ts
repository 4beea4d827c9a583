/**
 * The Job fallback's entering script, run for real with dash against this machine's /proc: bad
 * container ids are refused before anything runs, a container in the node's network namespace is
 * refused, and a real target is entered with NET_ADMIN, NET_RAW and SYS_PTRACE the only capabilities left. The cgroup
 * tests need root and a cgroup hierarchy (a cgroup named by a fake container id holds the "target").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { AgentError, ExitCode } from '../errors.ts';
import { ENTER_EXIT, ENTER_TARGET_SCRIPT, buildNodeAgentJob, checkContainerId } from './node-agent-job.ts';

const BAD_IDS = ['containerd://', 'garbage', 'containerd://0123abcd', `containerd://${'A'.repeat(64)}`, `podman://${'a'.repeat(64)}`,
  `containerd://${'a'.repeat(64)}/../1`, `containerd://${'a'.repeat(63)}`, ''];

/** Runs the script as the Job does: `sh -c SCRIPT kubectl-mirrord-agent <agent argv>`. */
function runScript(containerId: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', ENTER_TARGET_SCRIPT, 'kubectl-mirrord-agent', ...argv], {
      env: { PATH: process.env.PATH, MIRRORD_TARGET_CONTAINER_ID: containerId }, timeout: 30_000,
    }, (err, stdout, stderr) => resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr }));
  });
}

test('container ids: the three runtimes\' 64-hex form is accepted, everything else refused naming what would do', () => {
  for (const runtime of ['containerd', 'cri-o', 'docker']) assert.equal(checkContainerId(`${runtime}://${'ab'.repeat(32)}`), `${runtime}://${'ab'.repeat(32)}`);
  for (const id of BAD_IDS) {
    assert.throws(() => checkContainerId(id), (err: AgentError) => err instanceof AgentError && err.code === 'EJOBFALLBACK' && err.exitCode === ExitCode.agent &&
      err.message.includes(JSON.stringify(id)) && /containerd:\/\/, cri-o:\/\/ or docker:\/\/ followed by 64 hex digits/.test(err.message), id);
  }
  assert.throws(() => buildNodeAgentJob({
    sessionId: 'abcd1234', namespace: 'agents', image: 'img', tokenSha256: 'f'.repeat(64), idleTimeoutMs: 60_000, user: 'u', cliVersion: '0.1.0',
    nodeName: 'node-7', containerId: 'containerd://', port: 23456,
  }), /is not one the Job agent can look for/);
});

test('the script refuses a bad id before it reads /proc or runs anything', async () => {
  for (const id of BAD_IDS) {
    const r = await runScript(id, ['/bin/echo', 'the agent ran']);
    assert.equal(r.code, ENTER_EXIT.badId, `${id}: ${r.stderr}`);
    assert.match(r.stderr, /refusing MIRRORD_TARGET_CONTAINER_ID=.*: not containerd:\/\/, cri-o:\/\/ or docker:\/\/ followed by 64 hex digits/);
    assert.equal(r.stdout, '');
  }
  const missing = await runScript(`containerd://${randomBytes(32).toString('hex')}`, ['/bin/echo', 'the agent ran']);
  assert.equal(missing.code, ENTER_EXIT.notFound, missing.stderr);
  assert.match(missing.stderr, /no process of container [0-9a-f]{64} on this node/);
});

/** cgroup v2's root, or v1's pids hierarchy: where a container's cgroup shows in /proc/<pid>/cgroup. */
const hierarchy = ['/sys/fs/cgroup', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/systemd'].find((d, i) => existsSync(`${d}/${i === 0 ? 'cgroup.controllers' : 'cgroup.procs'}`));
const cgroupSkip = process.getuid?.() !== 0 ? 'needs root' : !hierarchy ? 'needs a cgroup hierarchy' : false;

/** A process started by `cmd` and moved into a cgroup named by a fresh container id. */
async function fakeContainer(t: { after(fn: () => unknown): void }, cmd: string[]): Promise<{ id: string; pid: number }> {
  const id = randomBytes(32).toString('hex');
  const dir = `${hierarchy}/kmrd-test-${id}`;
  mkdirSync(dir);
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore' });
  t.after(() => { child.kill('SIGKILL'); setTimeout(() => { try { rmdirSync(dir); } catch { /* busy a moment longer */ } }, 200); });
  writeFileSync(`${dir}/cgroup.procs`, String(child.pid));
  // unshare execs sleep once the namespace is made: wait until the process is in it.
  if (cmd[0] === 'unshare') {
    for (let i = 0; i < 200 && readlinkSync(`/proc/${child.pid}/ns/net`) === readlinkSync('/proc/self/ns/net'); i++) await new Promise((r) => setTimeout(r, 10));
  }
  return { id, pid: child.pid! };
}

test('the script refuses a container in the node\'s network namespace', { skip: cgroupSkip }, async (t) => {
  const { id } = await fakeContainer(t, ['sleep', '60']);
  const r = await runScript(`containerd://${id}`, ['/bin/echo', 'the agent ran']);
  assert.equal(r.code, ENTER_EXIT.hostNamespace, r.stderr);
  assert.match(r.stderr, /refusing to run in the node's network namespace: process \d+ of container [0-9a-f]{64} shares it with PID [12]/);
  assert.equal(r.stdout, '');
});

test('the script enters the target\'s network namespace and leaves the agent NET_ADMIN, NET_RAW and SYS_PTRACE alone', { skip: cgroupSkip }, async (t) => {
  const { id, pid } = await fakeContainer(t, ['unshare', '--net', 'sleep', '60']);
  const r = await runScript(`cri-o://${id}`, ['/bin/sh', '-c', 'readlink /proc/self/ns/net; grep -E "^Cap(Eff|Bnd|Inh):" /proc/self/status']);
  assert.equal(r.code, 0, r.stderr);
  const [netns, ...caps] = r.stdout.trim().split('\n');
  assert.equal(netns, readlinkSync(`/proc/${pid}/ns/net`), 'the agent runs in the target\'s namespace');
  // CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13 and CAP_SYS_PTRACE bit 19: 0x83000.
  assert.deepEqual(caps.map((l) => l.replace(/\s+/g, ' ')), ['CapInh: 0000000000000000', 'CapEff: 0000000000083000', 'CapBnd: 0000000000083000']);
});
