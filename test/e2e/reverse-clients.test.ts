/**
 * port-forward -R as the cluster's clients see it, on the sandbox (dual-stack pods, as a real
 * dual-stack cluster gives them: `status.podIPs` holds an IPv4 and an IPv6 address). A client pod
 * (ip-info) reaches the target at its IPv6 address and is stolen and mirrored like an IPv4 one,
 * with its IPv6 address reaching the CLI; and under a filtered steal the pod's own traffic is
 * answered while the local app is slow, and after it is gone.
 */
import { test, before, after } from 'node:test';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, startCli, waitUntil } from './cli-process.ts';
import type { CliProcess } from './cli-process.ts';

const run = promisify(execFile);
let sandbox: Sandbox;
let serviceUrl: string;
const TARGET = 'deployment/ip-visit-counter';
const POD_PORT = 8080;

interface PodInfo { name: string; uid: string; ip4: string; ip6: string }

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  for (const d of ['ip-visit-counter', 'ip-info']) {
    await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', `deployment/${d}`, '--timeout=60s']);
  }
  const svc = await kubectlJson(sandbox.kubeconfigPath, ['get', 'service', 'ip-visit-counter']);
  serviceUrl = `http://${svc.spec.clusterIP}`;
});

after(async () => {
  await sandbox?.stop();
});

/** The running pod of `app`, with both of its addresses from status.podIPs. */
async function runningPod(app: string): Promise<PodInfo> {
  const pods = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', `app=${app}`])).items
    .filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  const ips: string[] = (pods[0].status.podIPs ?? []).map((p: { ip: string }) => p.ip);
  const ip6 = ips.find((ip) => net.isIPv6(ip));
  assert.ok(ip6, `pod ${pods[0].metadata.name} is dual-stack: status.podIPs ${JSON.stringify(ips)}`);
  return { name: pods[0].metadata.name, uid: pods[0].metadata.uid, ip4: pods[0].status.podIP, ip6 };
}

/** curl run inside `pod`'s network namespace, as a process of that pod would run it. */
async function curlFrom(pod: PodInfo, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('ip', ['netns', 'exec', `kmsb-${pod.uid}`, 'curl', '-g', '-sS', '--max-time', '15', ...args])
    .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

/** Our rules in the pod, both families. */
async function podRules(uid: string): Promise<string> {
  const ns = ['netns', 'exec', `kmsb-${uid}`];
  const v4 = await run('ip', [...ns, 'iptables-save']);
  const v6 = await run('ip', [...ns, 'ip6tables-save']);
  return `${v4.stdout}\n${v6.stdout.split('\n').map((l) => `ip6: ${l}`).join('\n')}`.split('\n').filter((l) => l.includes('KMRD')).join('\n');
}

/** The local app: answers `local <path>`; requests to /slow are held (their bodies unread) until close. */
async function userApp(): Promise<{ port: number; urls: string[]; held: () => number; close(): Promise<void> }> {
  const urls: string[] = [];
  const held: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    urls.push(req.url ?? '');
    if (req.url?.startsWith('/slow')) {
      req.pause();
      held.push(req);
      return;
    }
    res.end(`local ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    urls,
    held: () => held.length,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function startReverse(args: string[]): Promise<CliProcess> {
  const cli = startCli(['port-forward', '-t', TARGET, '--agent-idle-timeout', '3s', ...args], sandbox.kubeconfigPath);
  await cli.waitFor(/Ctrl-C to stop/, 60_000);
  return cli;
}

function isRemote(body: string): boolean {
  return /"count":\s*\d+/.test(body);
}

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('steal over IPv6: a client pod dialling the target\'s IPv6 address gets the local app, and the CLI names the client by its IPv6 address', async () => {
  const target = await runningPod('ip-visit-counter');
  const client = await runningPod('ip-info');
  const url = `http://[${target.ip6}]:${POD_PORT}/count`;
  const before6 = await curlFrom(client, [url]);
  assert.ok(isRemote(before6.stdout), `the pod answers IPv6 clients before the steal: ${before6.stdout} ${before6.stderr}`);
  const app = await userApp();
  const cli = await startReverse(['-R', `${POD_PORT}:${app.port}`, '--steal', '-v']);
  try {
    const stolen = await curlFrom(client, [url]);
    assert.equal(stolen.stdout, 'local /count', stolen.stderr);
    await cli.waitFor(new RegExp(`-R ${POD_PORT}  \\[${escaped(client.ip6)}\\]:\\d+ → 127\\.0\\.0\\.1:${app.port}`), 10_000);
    const over4 = await curlFrom(client, [`http://${target.ip4}:${POD_PORT}/count`]);
    assert.equal(over4.stdout, 'local /count', 'IPv4 is stolen as well');
    await cli.waitFor(new RegExp(`-R ${POD_PORT}  ${escaped(client.ip4)}:\\d+ → `), 10_000);
    assert.match(await podRules(target.uid), /^ip6: -A KMRD-\S+ .*--dport 8080 .*-j REDIRECT/m, 'the IPv6 REDIRECT is in place');
    assert.equal(await cli.interrupt(), 130);
    await waitUntil(async () => (await podRules(target.uid)) === '', 'no KMRD rule is left in either family');
    const after6 = await curlFrom(client, [url]);
    assert.ok(isRemote(after6.stdout), `the pod answers IPv6 again: ${after6.stdout}`);
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('mirror over IPv6: the pod answers the IPv6 client, the local app gets the copy, the CLI names the client', async () => {
  const target = await runningPod('ip-visit-counter');
  const client = await runningPod('ip-info');
  const app = await userApp();
  const cli = await startReverse(['-R', `${POD_PORT}:${app.port}`, '-v']);
  try {
    const answer = await curlFrom(client, [`http://[${target.ip6}]:${POD_PORT}/count?mirrored6=1`]);
    assert.ok(isRemote(answer.stdout), `the pod answers: ${answer.stdout} ${answer.stderr}`);
    await waitUntil(async () => app.urls.includes('/count?mirrored6=1'), 'the local app got the copy', 10_000);
    await cli.waitFor(new RegExp(`-R ${POD_PORT}  \\[${escaped(client.ip6)}\\]:\\d+ → 127\\.0\\.0\\.1:${app.port}`), 10_000);
  } finally {
    await cli.interrupt();
    await app.close();
  }
});

test('filtered steal: while the local app holds a request (its 8 MiB body unread), and after the app is gone, the pod\'s own traffic is answered', async () => {
  const target = await runningPod('ip-visit-counter');
  const client = await runningPod('ip-info');
  const app = await userApp();
  const dir = mkdtempSync(join(tmpdir(), 'mirrord-filter-'));
  const config = join(dir, 'mirrord.yaml');
  writeFileSync(config, ['feature:', '  network:', '    incoming:', '      mode: steal', '      http_filter:',
    '        header_filter: "^x-user: me$"', `        ports: [${POD_PORT}]`].join('\n'));
  const body = join(dir, 'body');
  writeFileSync(body, Buffer.alloc(8 * 1024 * 1024, 'x'));
  const cli = await startReverse(['-f', config, '-R', `${POD_PORT}:${app.port}`]);
  // The developer's request: matched, sent to the local app, which neither reads nor answers it.
  const slow = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '120', '-H', 'x-user: me', '--data-binary', `@${body}`, `${serviceUrl}/slow`]);
  let slowOut = '';
  slow.stdout.on('data', (d: Buffer) => { slowOut += d.toString(); });
  const slowDone = new Promise<number | null>((resolve) => slow.once('exit', resolve));
  try {
    await waitUntil(async () => app.held() === 1, 'the local app holds the matched request', 30_000);
    // Everyone else's requests, over the Service and straight to the pod over both families.
    for (let i = 0; i < 10; i++) {
      const viaService = await curl([`${serviceUrl}/count`]);
      assert.ok(isRemote(viaService.stdout), `request ${i} via the Service is answered by the pod: ${viaService.stdout} ${viaService.stderr}`);
    }
    const v6 = await curlFrom(client, [`http://[${target.ip6}]:${POD_PORT}/count`]);
    assert.ok(isRemote(v6.stdout), `IPv6: ${v6.stdout} ${v6.stderr}`);
    assert.equal(slow.exitCode, null, 'the developer\'s request is still held');

    await app.close(); // the local app is gone: its held request fails, nothing else does
    const code = await slowDone;
    assert.notEqual(code, 28, `the held request ends when the app goes, it does not time out (${slowOut})`);
    for (let i = 0; i < 5; i++) {
      const viaService = await curl([`${serviceUrl}/count`]);
      assert.ok(isRemote(viaService.stdout), `after the local app is gone, request ${i} is answered by the pod: ${viaService.stdout}`);
    }
    const mine = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'x-user: me', `${serviceUrl}/count`]);
    assert.equal(mine.stdout, '502', `a matched request with no local app is answered 502 at once: ${mine.stderr}`);
    const v4 = await curlFrom(client, [`http://${target.ip4}:${POD_PORT}/count`]);
    assert.ok(isRemote(v4.stdout), `IPv4 straight to the pod: ${v4.stdout}`);
  } finally {
    slow.kill('SIGKILL');
    await cli.interrupt();
    await app.close().catch(() => {});
  }
});
