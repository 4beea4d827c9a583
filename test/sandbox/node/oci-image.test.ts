/**
 * The node's OCI pull on hand-made images: an image index picked by platform, two layers with a
 * whiteout, the config's runtime fields, a tag or platform the archive lacks, and a layout
 * directory read in place. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarBytes, tarGz } from '../../../scripts/release/tar-writer.ts';
import { OciNotFoundError, pullOciImage } from './oci-image.ts';

function blobWriter(layout: string) {
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  return (bytes: Buffer, mediaType: string, extra: object = {}) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(layout, 'blobs/sha256', hex), bytes);
    return { mediaType, digest: `sha256:${hex}`, size: bytes.length, ...extra };
  };
}

/** A layout with an index for `arch`, tagged `tag`; returns its directory. */
function makeLayout(dir: string, arch: string, tag: string): string {
  const layout = join(dir, 'layout');
  const blob = blobWriter(layout);
  const lower = blob(tarGz([{ path: 'etc', mode: 0o755 }, { path: 'etc/motd', data: Buffer.from('old'), mode: 0o644 }, { path: 'bin', mode: 0o755 }, { path: 'bin/app', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 }]), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const upper = blob(tarBytes([{ path: 'etc', mode: 0o755 }, { path: 'etc/.wh.motd', data: Buffer.alloc(0), mode: 0o644 }, { path: 'etc/issue', data: Buffer.from('new'), mode: 0o644 }]), 'application/vnd.oci.image.layer.v1.tar');
  const config = blob(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Entrypoint: ['/bin/app'], Cmd: ['--serve'], Env: ['PATH=/bin'], User: '1000:2000', WorkingDir: '/srv' }, rootfs: { type: 'layers', diff_ids: [] } })), 'application/vnd.oci.image.config.v1+json');
  const manifest = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [lower, upper] })), 'application/vnd.oci.image.manifest.v1+json', { platform: { os: 'linux', architecture: arch } });
  const index = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [manifest] })), 'application/vnd.oci.image.index.v1+json', { annotations: { 'org.opencontainers.image.ref.name': tag } });
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [index] }));
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return layout;
}

test('a layout directory: the amd64 manifest of the tag, layers applied with whiteouts, the config\'s runtime fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmsb-oci-'));
  try {
    const layout = makeLayout(dir, 'amd64', '1.0');
    const image = await pullOciImage(layout, '1.0', join(dir, 'cache'));
    assert.deepEqual([image.entrypoint, image.cmd, image.env, image.user, image.workingDir], [['/bin/app'], ['--serve'], ['PATH=/bin'], { uid: 1000, gid: 2000 }, '/srv']);
    assert.equal(readFileSync(join(image.rootfs, 'etc/issue'), 'utf8'), 'new');
    assert.equal(existsSync(join(image.rootfs, 'etc/motd')), false, 'the upper layer\'s whiteout removed etc/motd');
    assert.equal(existsSync(join(image.rootfs, 'etc/.wh.motd')), false, 'and the whiteout itself');
    await assert.rejects(pullOciImage(layout, '2.0', join(dir, 'cache')), (err: Error) => err instanceof OciNotFoundError && /tag 2\.0 not found \(the archive has 1\.0\)/.test(err.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an archive of an arm64-only image: no match for this node\'s platform', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmsb-oci-'));
  try {
    const layout = makeLayout(dir, 'arm64', 'v1');
    const archive = join(dir, 'image.tar');
    const entries = ['oci-layout', 'index.json', ...readdirSync(join(layout, 'blobs/sha256')).map((f) => `blobs/sha256/${f}`)].map((p) => ({ path: p, data: readFileSync(join(layout, p)), mode: 0o644 }));
    writeFileSync(archive, tarBytes(entries));
    await assert.rejects(pullOciImage(archive, 'v1', join(dir, 'cache')), (err: Error) => err instanceof OciNotFoundError && /no linux\/amd64 image/.test(err.message));
    await assert.rejects(pullOciImage(join(dir, 'missing.tar'), 'v1', join(dir, 'cache')), OciNotFoundError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
