/**
 * The single executables run without Node: the linux/amd64 one extracted into an empty folder and
 * started with an empty environment whose PATH holds only that folder; the linux/arm64 one is an
 * aarch64 ELF and answers --version under qemu-aarch64-static (user-mode emulation), with Debian's
 * arm64 glibc and C++ runtime (the agent image's .debs) as its library root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfMachine } from '../../scripts/release/elf.ts';
import { archiveName, RELEASE_PLATFORMS } from '../../scripts/release/platforms.ts';
import { REPO, releaseBuild } from './release-build.ts';

const amd64 = RELEASE_PLATFORMS.find((p) => p.arch === 'amd64')!;
const arm64 = RELEASE_PLATFORMS.find((p) => p.arch === 'arm64')!;

function extract(arch: typeof amd64): { dir: string; exe: string } {
  const { dir: dist, version } = releaseBuild();
  const dir = mkdtempSync(join(tmpdir(), `kmrd-exe-${arch.arch}-`));
  execFileSync('tar', ['-xzf', join(dist, archiveName(version, arch)), '-C', dir, 'kubectl-mirrord']);
  return { dir, exe: join(dir, 'kubectl-mirrord') };
}

test('linux/amd64: --version and --help with no Node anywhere (env -i, PATH = its own folder)', () => {
  const { dir, exe } = extract(amd64);
  try {
    assert.deepEqual(readdirSync(dir), ['kubectl-mirrord']);
    const version = spawnSync('env', ['-i', `PATH=${dir}`, exe, '--version'], { cwd: dir, encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), releaseBuild().version);
    assert.equal(version.stderr, '', 'no SEA warning or other noise');
    const help = spawnSync('env', ['-i', `PATH=${dir}`, exe, '--help'], { cwd: dir, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kubectl mirrord/);
    assert.match(help.stdout, /port-forward/);
    const bad = spawnSync('env', ['-i', `PATH=${dir}`, exe, '--no-such-flag'], { cwd: dir, encoding: 'utf8' });
    assert.equal(bad.status, 2, 'bad usage exits 2, as from source');
    assert.match(bad.stderr, /unknown option '--no-such-flag'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('linux/arm64: an aarch64 ELF that answers --version under qemu-aarch64-static', () => {
  const { dir, exe } = extract(arm64);
  const sysroot = mkdtempSync(join(tmpdir(), 'kmrd-arm64-root-'));
  try {
    assert.equal(elfMachine(exe), 183, 'EM_AARCH64');
    assert.equal(elfMachine(process.execPath), 62, 'and the host Node is EM_X86_64, so the check tells them apart');
    const debs = join(REPO, 'node_modules/.cache/kubectl-mirrord/debs/arm64');
    for (const pkg of ['libc6', 'libstdc++6', 'libgcc-s1']) {
      const deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`))!;
      execFileSync('dpkg-deb', ['-x', join(debs, deb), sysroot]);
    }
    const run = spawnSync('qemu-aarch64-static', ['-L', sysroot, exe, '--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), releaseBuild().version);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(sysroot, { recursive: true, force: true });
  }
});
