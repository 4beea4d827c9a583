/**
 * Bad input end to end: each case is one `error:` line and one `hint:` line, with its documented
 * exit code, and leaves no agent behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, setRbacDenials } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, kubectlJson, runCli } from './cli-process.ts';
import { CLI_NODE_OPTIONS } from '../../src/node-options.ts';
import { MEMORY_ADDON_FILE } from '../../src/cli/memory-addon.ts';
import { buildMemoryAddon } from '../../scripts/build.ts';

let sandbox: Sandbox;
let scratch: string;

before(async () => {
  sandbox = await startSandbox();
  scratch = mkdtempSync(join(tmpdir(), 'mirrord-e2e-'));
});

after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await sandbox?.stop();
});

/** The CLI's output is exactly an error line and a hint line. */
function assertOneLineError(output: string, pattern: RegExp): void {
  const lines = output.trim().split('\n');
  assert.equal(lines.length, 2, `expected error + hint, got:\n${output}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.match(lines[1], /^hint: /);
}

async function agentJobNames(): Promise<string[]> {
  const jobs = await kubectlJson(sandbox.kubeconfigPath, ['get', 'jobs', '-A', '-l', 'app.kubernetes.io/name=kubectl-mirrord-agent']);
  return jobs.items.map((j: any) => j.metadata.name);
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  return port;
}

test('malformed specs, -R without a target, bad exec flags: exit 2, no cluster contact', async () => {
  for (const [args, pattern] of [
    [['port-forward', '-L', '8080:ip-info'], /invalid -L '8080:ip-info': the remote port 'ip-info' is not a number/],
    [['port-forward', '-L', '8080:fd00::1:80'], /IPv6 address in brackets/],
    [['port-forward', '--socks', 'nope:1080'], /invalid --socks 'nope:1080'/],
    [['port-forward', '-L', '80:a:80', '-R', '8080'], /reverse forwarding needs a target \(--target pod\/NAME/],
    [['socks', '0.0.0.0:1080'], /socks \[addr:\]port 0\.0\.0\.0:1080 listens on 0\.0\.0\.0, which other machines can reach, without authentication/],
    [['port-forward', '--socks', '1080', '--socks-auth-file', '/nonexistent/auth'], /cannot read --socks-auth-file \/nonexistent\/auth: ENOENT/],
    [['exec', '--fs-mode', 'bogus', '--', 'true'], /invalid --fs-mode 'bogus'/],
  ] as const) {
    const { code, output } = await runCli([...args], '/nonexistent');
    assert.equal(code, 2, output);
    assertOneLineError(output, pattern);
  }
});

test('a port in use: exit 6 before any agent is created', async () => {
  const taken = net.createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = (taken.address() as AddressInfo).port;
  try {
    const jobsBefore = await agentJobNames();
    const { code, output } = await runCli(['port-forward', '-L', `${port}:ip-info:80`], sandbox.kubeconfigPath);
    assert.equal(code, 6, output);
    assertOneLineError(output, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    assert.deepEqual((await agentJobNames()).filter((n) => !jobsBefore.includes(n)), []);
  } finally {
    taken.close();
  }
});

test('binding a port below 1024 as a non-root user: exit 6, permission denied', async () => {
  const { execFile } = await import('node:child_process');
  const result = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(REPO, 'bin/kubectl-mirrord'), 'port-forward', '-L', '81:ip-info:80'],
      { env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '/nonexistent' } },
      (err, stdout, stderr) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, output: stdout + stderr }));
  });
  assert.equal(result.code, 6, result.output);
  assertOneLineError(result.output, /permission denied binding 127\.0\.0\.1:81/);
});

test('missing kubeconfig: exit 3', async () => {
  const { code, output } = await runCli(['socks', String(await freePort())], join(scratch, 'missing-kubeconfig'));
  assert.equal(code, 3, output);
  assertOneLineError(output, /KUBECONFIG names no existing file/);
  const flag = await runCli(['socks', String(await freePort()), '--kubeconfig', join(scratch, 'nope')], sandbox.kubeconfigPath);
  assert.equal(flag.code, 3);
  assertOneLineError(flag.output, /--kubeconfig .*nope: no such file/);
});

test('-v names the runtime: bin/kubectl-mirrord starts Node with the options of src/node-options.ts, and the memory addon', async () => {
  buildMemoryAddon();
  const { code, output } = await runCli(['socks', String(await freePort()), '-v'], join(scratch, 'missing-kubeconfig'));
  assert.equal(code, 3, output);
  const lines = output.split('\n');
  assert.equal(lines[0], `runtime: Node ${process.version}, ${CLI_NODE_OPTIONS.join(' ')}; malloc_trim: ${join(REPO, 'build', 'native', MEMORY_ADDON_FILE)}`);
  assert.match(lines[1], /^error: KUBECONFIG names no existing file/);
});

test('unreachable API server: exit 3', async () => {
  const dead = await freePort();
  const config = readFileSync(sandbox.kubeconfigPath, 'utf8').replace(/https:\/\/127\.0\.0\.1:\d+/g, `https://127.0.0.1:${dead}`);
  const path = join(scratch, 'unreachable');
  writeFileSync(path, config);
  const { code, output } = await runCli(['socks', String(await freePort())], path);
  assert.equal(code, 3, output);
  assert.match(output, new RegExp(`error: cannot reach the API server https://127\\.0\\.0\\.1:${dead} \\(ECONNREFUSED\\)`));
  assert.match(output, /hint: /);
});

test('unknown namespace: exit 4', async () => {
  const { code, output } = await runCli(['socks', String(await freePort()), '-n', 'no-such-namespace'], sandbox.kubeconfigPath);
  assert.equal(code, 4, output);
  assert.match(output, /error: namespace "no-such-namespace" not found/);
  assert.match(output, /hint: check -n\/--namespace/);
});

test('missing RBAC: exit 4 naming the verb and the resource, nothing created', async () => {
  const original = readFileSync(join(REPO, '.sandbox/rbac.json'), 'utf8');
  setRbacDenials([{ user: 'restricted', verb: 'create', resource: 'pods', subresource: 'portforward' }]);
  try {
    const jobsBefore = await agentJobNames();
    const { code, output } = await runCli(['socks', String(await freePort()), '--context', 'sandbox-restricted'], sandbox.kubeconfigPath);
    assert.equal(code, 4, output);
    assert.match(output, /error: you may not create pods\/portforward \(to connect to the agent\) in namespace "default"/);
    assert.match(output, /hint: ask a cluster admin/);
    assert.deepEqual((await agentJobNames()).filter((n) => !jobsBefore.includes(n)), []);
  } finally {
    writeFileSync(join(REPO, '.sandbox/rbac.json'), original);
  }
});

test('an agent image that cannot be pulled: exit 5 fast, and the Job is removed', async () => {
  const jobsBefore = await agentJobNames();
  const started = Date.now();
  const { code, output } = await runCli(['socks', String(await freePort()), '--agent-image', 'registry.invalid/no-such-agent:0'], sandbox.kubeconfigPath);
  assert.equal(code, 5, output);
  assert.match(output, /error: cannot pull the agent image "registry\.invalid\/no-such-agent:0": (ErrImagePull|ImagePullBackOff)/);
  assert.ok(Date.now() - started < 30_000, 'failed fast, not at the startup timeout');
  assert.deepEqual((await agentJobNames()).filter((n) => !jobsBefore.includes(n)), []);
});
