/**
 * port-forward -L and SOCKS end to end on the sandbox: the real CLI through kubectl's plugin
 * mechanism, real curl, real Chromium.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, startCli, summaryPort } from './cli-process.ts';

const run = promisify(execFile);
let sandbox: Sandbox;

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-info', 'deployment/ip-visit-counter', '--timeout=60s']);
});

after(async () => {
  await sandbox?.stop();
});

/** Upgraded portforward WebSockets to one pod, from the API server's request log. */
function portForwardUpgrades(podName: string): number {
  const log = readFileSync(join(REPO, '.sandbox/apiserver.log'), 'utf8');
  return log.split('\n').filter((l) => l.includes(`/pods/${podName}/portforward`) && /code=101\b/.test(l)).length;
}

test('three -L and --socks share one agent connection; curl by short name, FQDN, pod IP, and through SOCKS', async () => {
  const kc = sandbox.kubeconfigPath;
  const ipInfo = (await kubectlJson(kc, ['get', 'pods', '-l', 'app=ip-info'])).items[0];
  const podIPv4 = ipInfo.status.podIPs.find((p: { ip: string }) => !p.ip.includes(':')).ip as string;
  const podIPv6 = ipInfo.status.podIPs.find((p: { ip: string }) => p.ip.includes(':'))?.ip as string | undefined;
  const cli = startCli(['port-forward', '-L', '0:ip-visit-counter:80', '-L', '0:ip-info.default.svc.cluster.local:80', '-L', `0:${podIPv4}:8080`, '--socks', '0',
    '-L', '0:no-such-service:80', '-L', `0:${podIPv4}:9999`], kc);
  try {
    const [, podName] = await cli.waitFor(/agent ready in [\d.]+ s \(pod (\S+)\)/);
    await cli.waitFor(/Ctrl-C to stop/);
    const upgradesAtReady = portForwardUpgrades(podName);
    assert.ok(upgradesAtReady >= 1, 'the agent connection is a portforward WebSocket');
    const out = cli.output();
    const shortName = summaryPort(out, '→ ip-visit-counter:80');
    const fqdn = summaryPort(out, '→ ip-info.default.svc.cluster.local:80');
    const podIp = summaryPort(out, `→ ${podIPv4}:8080`);
    const socks = summaryPort(out, 'SOCKS5');

    const count = await curl([`http://127.0.0.1:${shortName}/count`]);
    assert.equal(count.code, 0, count.stderr);
    assert.equal(typeof JSON.parse(count.stdout).count, 'number');
    for (const port of [fqdn, podIp]) assert.equal((await curl([`http://127.0.0.1:${port}/health`])).stdout.trim(), 'ok');

    const viaSocks = await curl(['--socks5-hostname', `127.0.0.1:${socks}`, 'http://ip-info.default.svc.cluster.local/health']);
    assert.equal(viaSocks.stdout.trim(), 'ok', viaSocks.stderr);
    if (podIPv6) {
      const v6 = await curl(['--socks5-hostname', `127.0.0.1:${socks}`, `http://[${podIPv6}]:8080/health`]);
      assert.equal(v6.stdout.trim(), 'ok', v6.stderr);
    }
    const unknown = await curl(['--socks5-hostname', `127.0.0.1:${socks}`, 'http://no-such-service.default.svc.cluster.local/']);
    assert.equal(unknown.code, 97, 'curl: SOCKS connection failed');
    assert.match(unknown.stderr, /\(4\)/, 'reply 4: host unreachable (the name did not resolve)');

    // Failures are one line each without -v, in words; the successful connections above printed none.
    const typo = summaryPort(out, '→ no-such-service:80');
    const closed = summaryPort(out, `→ ${podIPv4}:9999`);
    for (let i = 0; i < 3; i++) assert.notEqual((await curl([`http://127.0.0.1:${typo}/`])).code, 0);
    assert.notEqual((await curl([`http://127.0.0.1:${closed}/`])).code, 0);
    await cli.waitFor(new RegExp(`port ${closed} → ${podIPv4.replaceAll('.', '\\.')}:9999: connection refused by ${podIPv4.replaceAll('.', '\\.')}:9999\n`));
    const failureLines = cli.output().split('\n').filter((l) => / → .*: /.test(l) && /^(port|SOCKS port) \d+/.test(l));
    assert.deepEqual(failureLines, [
      `SOCKS port ${socks} → no-such-service.default.svc.cluster.local:80: no such host in the cluster`,
      `port ${typo} → no-such-service:80: no such host in the cluster`,
      `port ${closed} → ${podIPv4}:9999: connection refused by ${podIPv4}:9999`,
    ]);

    assert.equal(portForwardUpgrades(podName), upgradesAtReady, 'no connection opened another portforward WebSocket');
    const jobName = podName.replace(/-[a-z0-9]+$/, '');
    assert.equal(await cli.interrupt(), 130);
    const jobs = await kubectlJson(kc, ['get', 'jobs', '--field-selector', `metadata.name=${jobName}`]);
    assert.equal(jobs.items.length, 0, 'Ctrl-C deleted the Job');
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('headless Chromium loads the demo page through the SOCKS server', { skip: !existsSync('/usr/bin/chromium') && 'chromium is not installed' }, async () => {
  const cli = startCli(['socks', '0'], sandbox.kubeconfigPath);
  const profile = mkdtempSync(join(tmpdir(), 'mirrord-chromium-'));
  try {
    await cli.waitFor(/Ctrl-C to stop/);
    const socks = summaryPort(cli.output(), 'SOCKS5');
    const { stdout } = await run('/usr/bin/chromium', [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
      `--proxy-server=socks5://127.0.0.1:${socks}`, '--dump-dom', 'http://ip-visit-counter.default.svc.cluster.local/',
    ], { timeout: 60_000 });
    assert.match(stdout, /<h1>ip-visit-counter<\/h1>/);
    assert.match(stdout, /<p id="greeting">[^<]+<\/p>/);
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
  }
});
