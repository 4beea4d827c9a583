/**
 * The single executables run without Node: the linux/amd64 one extracted into an empty folder and
 * started with an empty environment whose PATH holds only that folder; the linux/arm64 one is an
 * aarch64 ELF and answers --version under qemu-aarch64-static (user-mode emulation), with Debian's
 * arm64 glibc and C++ runtime (the agent image's .debs) as its library root. The exec layer each
 * archive holds loads into a real process of its machine (the dynamic linker's LD_DEBUG=files
 * trace shows it initialised), and the amd64 executable finds it next to itself: `exec` gets past
 * the layer to the kubeconfig with it, and names the missing file without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfMachine } from '../../scripts/release/elf.ts';
import { archiveName, LAYER_FILE, MEMORY_ADDON_FILE, RELEASE_PLATFORMS } from '../../scripts/release/platforms.ts';
import { REPO, releaseBuild } from './release-build.ts';
import { CLI_NODE_OPTIONS } from '../../src/node-options.ts';

const amd64 = RELEASE_PLATFORMS.find((p) => p.arch === 'amd64')!;
const arm64 = RELEASE_PLATFORMS.find((p) => p.arch === 'arm64')!;

function extract(arch: typeof amd64, members = ['kubectl-mirrord']): { dir: string; exe: string } {
  const { dir: dist, version } = releaseBuild();
  const dir = mkdtempSync(join(tmpdir(), `kmrd-exe-${arch.arch}-`));
  execFileSync('tar', ['-xzf', join(dist, archiveName(version, arch)), '-C', dir, ...members]);
  return { dir, exe: join(dir, 'kubectl-mirrord') };
}

test('linux/amd64: the single executable loads the memory addon from beside itself', () => {
  const { dir, exe } = extract(amd64, ['kubectl-mirrord', MEMORY_ADDON_FILE]);
  try {
    const verbose = spawnSync('env', ['-i', `PATH=${dir}`, `KUBECONFIG=${join(dir, 'none')}`, exe, 'socks', '0', '-v'], { cwd: dir, encoding: 'utf8' });
    assert.equal(verbose.status, 3, verbose.stderr);
    assert.equal(verbose.stderr.split('\n')[0], `runtime: Node ${process.version}, ${CLI_NODE_OPTIONS.join(' ')}; malloc_trim: ${join(dir, MEMORY_ADDON_FILE)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The dynamic linker's trace (ld.so(8) LD_DEBUG=files) shows `layer` loaded and its constructor run. */
function assertLayerInitialised(stderr: string, layer: string): void {
  assert.ok(stderr.split('\n').some((l) => l.includes('calling init:') && l.trimEnd().endsWith(layer)), `ld.so ran the layer's init:\n${stderr.slice(0, 4000)}`);
  assert.doesNotMatch(stderr, /cannot be preloaded/);
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
    // The executable's own Node options (its execArgv, src/node-options.ts), named by -v before
    // the missing kubeconfig stops it.
    const verbose = spawnSync('env', ['-i', `PATH=${dir}`, `KUBECONFIG=${join(dir, 'none')}`, exe, 'socks', '0', '-v'], { cwd: dir, encoding: 'utf8' });
    assert.equal(verbose.status, 3, verbose.stderr);
    assert.equal(verbose.stderr.split('\n')[0], `runtime: Node ${process.version}, ${CLI_NODE_OPTIONS.join(' ')}; malloc_trim: unavailable (no ${join(dir, MEMORY_ADDON_FILE)})`, 'without the addon beside it, it says so and runs');
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

test('linux/amd64: the layer loads into a real program, and exec finds it next to the executable', () => {
  const { dir, exe } = extract(amd64, ['kubectl-mirrord', LAYER_FILE]);
  const layer = join(dir, LAYER_FILE);
  try {
    // Without KUBECTL_MIRRORD_LAYER_SOCKET the layer stays inert, so sh runs as it would alone.
    const sh = spawnSync('/bin/sh', ['-c', 'echo loaded'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LD_PRELOAD: layer, LD_DEBUG: 'files' } });
    assert.equal(sh.status, 0, sh.stderr);
    assert.equal(sh.stdout, 'loaded\n');
    assertLayerInitialised(sh.stderr, layer);
    // No Node on PATH, and a kubeconfig that does not exist: no cluster anywhere.
    const env = ['-i', `PATH=${dir}:/usr/bin:/bin`, `HOME=${dir}`, `KUBECONFIG=${join(dir, 'no-kubeconfig')}`, 'NO_COLOR=1'];
    const run = (...argv: string[]) => spawnSync('env', [...env, exe, 'exec', '--', ...argv], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    const missing = run('/nonexistent');
    assert.equal(missing.status, 127, missing.stderr);
    assert.match(missing.stderr, /\/nonexistent/);
    // With the layer beside it, exec gets past the layer and fails on the cluster, saying so.
    const noCluster = run('sh', '-c', 'exit 0');
    assert.equal(noCluster.status, 3, `the kubeconfig exit code: ${noCluster.stderr}`);
    assert.ok(noCluster.stderr.includes(`KUBECONFIG names no existing file: ${join(dir, 'no-kubeconfig')}`), noCluster.stderr);
    assert.doesNotMatch(noCluster.stderr, /layer/);
    unlinkSync(layer);
    const noLayer = run('sh', '-c', 'exit 0');
    assert.equal(noLayer.status, 6, `the missing layer's exit code: ${noLayer.stderr}`);
    assert.ok(noLayer.stderr.includes(`the exec layer is missing: ${layer} does not exist`), noLayer.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('linux/arm64: the layer loads into the aarch64 executable under qemu-aarch64-static', () => {
  const { dir, exe } = extract(arm64, ['kubectl-mirrord', LAYER_FILE]);
  const layer = join(dir, LAYER_FILE);
  const sysroot = mkdtempSync(join(tmpdir(), 'kmrd-arm64-root-'));
  try {
    const debs = join(REPO, 'node_modules/.cache/kubectl-mirrord/debs/arm64');
    for (const pkg of ['libc6', 'libstdc++6', 'libgcc-s1']) {
      const deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`))!;
      execFileSync('dpkg-deb', ['-x', join(debs, deb), sysroot]);
    }
    const run = spawnSync('qemu-aarch64-static', ['-L', sysroot, '-E', `LD_PRELOAD=${layer}`, '-E', 'LD_DEBUG=files', exe, '--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), releaseBuild().version);
    assertLayerInitialised(run.stderr, layer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(sysroot, { recursive: true, force: true });
  }
});
