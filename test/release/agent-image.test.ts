/**
 * The agent image as skopeo (a tool nobody here wrote) reads it: one index for linux/amd64 and
 * linux/arm64, the entrypoint the CLI's Job fallback relies on, the OCI labels; and its layer:
 * the bundled agent, Node, iptables, ipset and the fallback's shell tools, each runnable in the
 * image's root alone (chroot for amd64, qemu-aarch64-static with the image as library root for
 * arm64). The sandbox runs the same archive for every agent (test/sandbox/agent-image.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_IMAGE_ENTRYPOINT } from '../../src/kube/agent-image.ts';
import { elfMachine } from '../../scripts/release/elf.ts';
import { imageArchiveName } from '../../scripts/release/platforms.ts';
import { releaseBuild } from './release-build.ts';

function skopeo(args: string[]): any {
  return JSON.parse(execFileSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8' }));
}

function archiveRef(): string {
  const { dir, version } = releaseBuild();
  return `oci-archive:${join(dir, imageArchiveName(version))}:${version}`;
}

test('skopeo reads one index for linux/amd64 and linux/arm64, with the agent as entrypoint and OCI labels', () => {
  const ref = archiveRef();
  const index = skopeo(['inspect', '--raw', ref]);
  assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(index.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`), ['linux/amd64', 'linux/arm64']);
  for (const arch of ['amd64', 'arm64']) {
    const config = skopeo(['inspect', '--config', '--override-arch', arch, '--override-os', 'linux', ref]);
    assert.equal(config.architecture, arch);
    assert.deepEqual(config.config.Entrypoint, AGENT_IMAGE_ENTRYPOINT);
    assert.equal(config.config.User, '65532:65532');
    assert.equal(config.config.Labels['org.opencontainers.image.version'], releaseBuild().version);
    assert.match(config.config.Labels['org.opencontainers.image.source'], /^https:\/\/github\.com\//);
  }
});

/** Copies one platform's image out with skopeo and unpacks its layers into a root filesystem. */
function unpackRootfs(arch: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kmrd-image-${arch}-`));
  execFileSync('skopeo', ['--insecure-policy', 'copy', '--override-arch', arch, '--override-os', 'linux', archiveRef(), `dir:${join(dir, 'image')}`], { stdio: 'ignore' });
  const manifest = JSON.parse(execFileSync('cat', [join(dir, 'image/manifest.json')], { encoding: 'utf8' }));
  execFileSync('mkdir', [join(dir, 'rootfs')]);
  for (const layer of manifest.layers) execFileSync('tar', ['-xzf', join(dir, 'image', layer.digest.split(':')[1]), '-C', join(dir, 'rootfs')]);
  return dir;
}

test('linux/amd64 layer: the agent, Node, iptables, ipset, sh, grep, nsenter and setpriv run inside the image alone', { skip: process.getuid?.() !== 0 && 'chroot needs root' }, () => {
  const dir = unpackRootfs('amd64');
  const root = join(dir, 'rootfs');
  try {
    for (const f of AGENT_IMAGE_ENTRYPOINT) assert.ok(existsSync(join(root, f)), `${f} is in the layer`);
    assert.ok(existsSync(join(root, 'opt/kubectl-mirrord/guard.mjs')), 'the iptables guard sits beside the agent');
    const inImage = (cmd: string[]) => spawnSync('chroot', [root, ...cmd], { encoding: 'utf8', env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
    const checks: [string[], RegExp][] = [
      [['/usr/local/bin/node', '--version'], new RegExp(`^v${process.versions.node.replace(/\./g, '\\.')}`)],
      [['iptables', '--version'], /^iptables v1\.\d+\.\d+ \(nf_tables\)/],
      [['ip6tables', '--version'], /^ip6tables v1\./],
      // The agent applies its rule changes in batches through the restore programs of both families.
      [['iptables-restore', '--version'], /^iptables-restore v1\./],
      [['ip6tables-restore', '--version'], /^ip6tables-restore v1\./],
      [['iptables-legacy', '--version'], /\(legacy\)/],
      [['ipset', 'version'], /^ipset v\d/],
      [['/bin/sh', '-c', 'echo kmrd | grep -c kmrd'], /^1$/],
      [['nsenter', '--version'], /^nsenter from util-linux/],
      [['setpriv', '--version'], /^setpriv from util-linux/],
    ];
    for (const [cmd, expected] of checks) {
      const r = inImage(cmd);
      assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
      assert.match((r.stdout + r.stderr).trim(), expected, cmd.join(' '));
    }
    // The agent itself starts, and refuses to run without its session token's hash.
    const agent = inImage([...AGENT_IMAGE_ENTRYPOINT]);
    assert.equal(agent.status, 2, agent.stderr);
    assert.match(agent.stderr, /MIRRORD_AGENT_TOKEN_SHA256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('linux/arm64 layer: aarch64 programs that run under qemu-aarch64-static with only the image\'s libraries', () => {
  const dir = unpackRootfs('arm64');
  const root = join(dir, 'rootfs');
  try {
    for (const f of ['usr/local/bin/node', 'usr/sbin/xtables-nft-multi', 'usr/sbin/ipset', 'bin/dash', 'usr/bin/nsenter']) {
      assert.equal(elfMachine(join(root, f)), 183, `${f} is an aarch64 ELF`);
    }
    const node = spawnSync('qemu-aarch64-static', ['-L', root, join(root, 'usr/local/bin/node'), '--version'], { encoding: 'utf8' });
    assert.equal(node.status, 0, node.stderr);
    assert.equal(node.stdout.trim(), `v${process.versions.node}`);
    // The legacy build: qemu's user mode cannot pass the nf_tables netlink socket that the nft
    // build opens even for --version.
    const iptables = spawnSync('qemu-aarch64-static', ['-L', root, '-0', 'iptables-legacy', join(root, 'usr/sbin/xtables-legacy-multi'), '--version'], { encoding: 'utf8' });
    assert.equal(iptables.status, 0, iptables.stderr);
    assert.match(iptables.stdout, /^iptables v1\.\d+\.\d+ \(legacy\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
