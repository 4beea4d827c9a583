/**
 * The release's linux/amd64 archive in place of bin/: kubectl finds the single executable on PATH
 * as a plugin, port-forward -L plus SOCKS work against the sandbox with real curl, as from source,
 * and `exec` runs curl with the layer from the same archive (found next to the executable), in the
 * blocked context (test/support/exec-blocked.ts), where only the layer can reach the cluster.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveName, LAYER_FILE, RELEASE_PLATFORMS } from '../../scripts/release/platforms.ts';
import { releaseBuild } from '../release/release-build.ts';
import { startSandbox, type Sandbox } from '../sandbox/harness.ts';
import { runBlocked } from '../support/exec-blocked.ts';
import { REPO, curl, kubectl, startCli, summaryPort } from './cli-process.ts';

let sandbox: Sandbox;
let exeDir: string;

before(async () => {
  const { dir, version } = releaseBuild();
  exeDir = mkdtempSync(join(tmpdir(), 'kmrd-sea-'));
  execFileSync('tar', ['-xzf', join(dir, archiveName(version, RELEASE_PLATFORMS.find((p) => p.arch === 'amd64')!)), '-C', exeDir, 'kubectl-mirrord', LAYER_FILE]);
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-info', 'deployment/ip-visit-counter', '--timeout=60s']);
});

after(async () => {
  await sandbox?.stop();
  if (exeDir) rmSync(exeDir, { recursive: true, force: true });
});

/** PATH without the repository's bin/ and Node: kubectl can only find the extracted executable. */
const pathWithoutRepo = () => [exeDir, ...(process.env.PATH ?? '').split(':').filter((d) => !d.startsWith(REPO))].join(':');

test('the single executable as the kubectl plugin: -L and SOCKS reach the demo services', async () => {
  const path = pathWithoutRepo();
  assert.equal(execFileSync('kubectl', ['plugin', 'list', '--name-only'], { env: { ...process.env, PATH: path }, encoding: 'utf8' }).trim().split('\n').filter((l) => l.includes('mirrord')).join(), 'kubectl-mirrord');
  const cli = startCli(['port-forward', '-L', '0:ip-visit-counter:80', '--socks', '0'], sandbox.kubeconfigPath, { PATH: path });
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const out = cli.output();
    const count = await curl([`http://127.0.0.1:${summaryPort(out, '→ ip-visit-counter:80')}/count`]);
    assert.equal(count.code, 0, count.stderr);
    assert.equal(typeof JSON.parse(count.stdout).count, 'number');
    const viaSocks = await curl(['--socks5-hostname', `127.0.0.1:${summaryPort(out, 'SOCKS5')}`, 'http://ip-info.default.svc.cluster.local/health']);
    assert.equal(viaSocks.stdout.trim(), 'ok', viaSocks.stderr);
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('exec from the archive: curl reaches a Service through the layer next to the executable', async () => {
  const r = await runBlocked(['kubectl', 'mirrord', 'exec', '-t', 'deployment/ip-visit-counter', '--', 'curl', '-sS', '--max-time', '20', 'http://ip-info/health'], {
    env: { ...process.env, PATH: pathWithoutRepo(), KUBECONFIG: sandbox.kubeconfigPath, NO_COLOR: '1' }, timeoutMs: 150_000,
  });
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'ok');
  const log = /session log: (\S+)/.exec(r.stderr)?.[1];
  assert.ok(log, r.stderr);
  // The proxy logs every process that loaded the layer (layer-server.ts): curl is one.
  assert.match(readFileSync(log, 'utf8'), /layer: pid \d+ \(ppid \d+\) \S*\/curl connected/);
});
