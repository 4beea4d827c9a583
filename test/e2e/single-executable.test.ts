/**
 * The release's linux/amd64 single executable in place of bin/: kubectl finds it on PATH as a
 * plugin, and port-forward -L plus SOCKS work against the sandbox with real curl, as from source.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveName, RELEASE_PLATFORMS } from '../../scripts/release/platforms.ts';
import { releaseBuild } from '../release/release-build.ts';
import { startSandbox, type Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, startCli, summaryPort } from './cli-process.ts';

let sandbox: Sandbox;
let exeDir: string;

before(async () => {
  const { dir, version } = releaseBuild();
  exeDir = mkdtempSync(join(tmpdir(), 'kmrd-sea-'));
  execFileSync('tar', ['-xzf', join(dir, archiveName(version, RELEASE_PLATFORMS.find((p) => p.arch === 'amd64')!)), '-C', exeDir, 'kubectl-mirrord']);
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-info', 'deployment/ip-visit-counter', '--timeout=60s']);
});

after(async () => {
  await sandbox?.stop();
  if (exeDir) rmSync(exeDir, { recursive: true, force: true });
});

test('the single executable as the kubectl plugin: -L and SOCKS reach the demo services', async () => {
  // PATH without the repository's bin/: kubectl can only find the extracted executable.
  const path = [exeDir, ...(process.env.PATH ?? '').split(':').filter((d) => !d.startsWith(REPO))].join(':');
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
