/**
 * The agent's container image, built without a daemon: Debian's umoci assembles one image per
 * platform FROM scratch in an OCI image layout, an OCI image index ties the platforms together
 * under the release version, and the layout is written as an OCI archive (a tar of the layout,
 * what skopeo calls `oci-archive:`; the release workflow pushes it with `skopeo copy --all`).
 *
 * The root filesystem holds only what the agent runs (research/dist.md 3.1, mirrord's
 * ci/agent-build does the same): Node and its shared libraries, the bundled agent, iptables /
 * ip6tables with their xtables modules, ipset, and the Job fallback's sh, grep, nsenter and
 * setpriv. Programs and libraries come from Debian's packages of the image's architecture; each
 * library is found by following DT_NEEDED from the programs, so nothing unused is copied.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, posix } from 'node:path';
import { AGENT_IMAGE_ENTRYPOINT, AGENT_IMAGE_REPOSITORY } from '../../src/kube/agent-image.ts';
import { buildAgent } from '../build.ts';
import { extractDebs } from './debian-packages.ts';
import { readElf } from './elf.ts';
import type { ReleasePlatform } from './platforms.ts';
import { SOURCE_URL } from './krew-manifest.ts';
import { tarBytes, type TarEntry } from './tar-writer.ts';

const MEDIA_INDEX = 'application/vnd.oci.image.index.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';
/** Where the bundled agent sits in the image (the entrypoint's second word). */
const AGENT_DIR = posix.dirname(AGENT_IMAGE_ENTRYPOINT[1]);
const NODE_PATH = AGENT_IMAGE_ENTRYPOINT[0];
/** The unprivileged user the image runs as by default (distroless's "nonroot"). */
const NONROOT = '65532:65532';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Programs taken from the Debian tree, and the names they are also called by. */
const PROGRAMS: { file: string; links: string[] }[] = [
  { file: 'usr/sbin/xtables-nft-multi', links: ['usr/sbin/iptables', 'usr/sbin/ip6tables', 'usr/sbin/iptables-nft', 'usr/sbin/ip6tables-nft', 'usr/sbin/iptables-save', 'usr/sbin/iptables-restore', 'usr/sbin/ip6tables-save', 'usr/sbin/ip6tables-restore'] },
  { file: 'usr/sbin/xtables-legacy-multi', links: ['usr/sbin/iptables-legacy', 'usr/sbin/ip6tables-legacy'] },
  { file: 'usr/sbin/ipset', links: [] },
  { file: 'bin/dash', links: ['bin/sh'] },
  { file: 'bin/grep', links: [] },
  { file: 'usr/bin/nsenter', links: [] },
  { file: 'usr/bin/setpriv', links: [] },
];

export interface ImageInputs {
  version: string;
  /** Seconds since the epoch for every timestamp in the image (reproducible builds). */
  created: number;
  platforms: { platform: ReleasePlatform; nodeBinary: string; debs: string[] }[];
}

export interface BuiltImage {
  archive: string;
  /** Per platform: the compressed size of its layers and the uncompressed root filesystem. */
  sizes: { arch: string; compressedBytes: number; rootfsBytes: number }[];
}

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Follows symlinks inside `tree` (absolute targets are relative to the tree) to a real file. */
function realInTree(tree: string, rel: string): string {
  let path = rel;
  for (let hops = 0; hops < 40; hops++) {
    const full = join(tree, path);
    if (!existsSync(full) && !isLink(full)) throw new Error(`${rel}: ${path} is not in the Debian packages' tree`);
    if (!isLink(full)) return path;
    const target = readlinkSync(full);
    path = target.startsWith('/') ? target.slice(1) : posix.join(posix.dirname(path), target);
  }
  throw new Error(`${rel}: too many symlinks`);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Copies `from` (a real file) to `rootfs/rel`, creating parents. */
function place(from: string, rootfs: string, rel: string, mode?: number): void {
  const to = join(rootfs, rel);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  if (mode !== undefined) chmodSync(to, mode);
}

/**
 * Copies the ELF files `rels` (paths in `tree`, or already in `rootfs`) and every library they
 * need, transitively, into `rootfs`. Libraries are looked up where Debian's ld.so looks by default.
 */
function copyWithLibraries(tree: string, rootfs: string, platform: ReleasePlatform, elfs: string[]): void {
  const libDirs = [`lib/${platform.triplet}`, `usr/lib/${platform.triplet}`, 'lib', 'usr/lib'];
  const done = new Set<string>();
  const queue = [...elfs];
  while (queue.length) {
    const file = queue.shift()!;
    if (done.has(file)) continue;
    done.add(file);
    const info = readElf(file);
    if (info.machine !== platform.elfMachine) throw new Error(`${file} is ELF machine ${info.machine}, not ${platform.arch}'s ${platform.elfMachine}`);
    const wanted = [...info.needed.map((soname) => {
      const dir = libDirs.find((d) => existsSync(join(tree, d, soname)) || isLink(join(tree, d, soname)));
      if (!dir) throw new Error(`${file} needs ${soname}, which no package in IMAGE_PACKAGES holds for ${platform.debArch}`);
      return `${dir}/${soname}`;
    }), ...(info.interpreter ? [info.interpreter.slice(1)] : [])];
    for (const rel of wanted) {
      const inRootfs = join(rootfs, rel);
      if (!existsSync(inRootfs)) place(join(tree, realInTree(tree, rel)), rootfs, rel);
      queue.push(inRootfs);
    }
  }
}

/** Lays out one platform's root filesystem in `rootfs`. */
async function stageRootfs(rootfs: string, tree: string, agentDir: string, platform: ReleasePlatform, nodeBinary: string): Promise<void> {
  place(nodeBinary, rootfs, NODE_PATH.slice(1), 0o755);
  execFileSync(platform.strip, ['--strip-unneeded', join(rootfs, NODE_PATH)]);
  for (const f of readdirSync(agentDir).filter((f) => f.endsWith('.mjs'))) place(join(agentDir, f), rootfs, posix.join(AGENT_DIR, f).slice(1), 0o644);
  const elfs = [join(rootfs, NODE_PATH)];
  for (const program of PROGRAMS) {
    place(join(tree, realInTree(tree, program.file)), rootfs, program.file, 0o755);
    elfs.push(join(rootfs, program.file));
    for (const link of program.links) {
      mkdirSync(dirname(join(rootfs, link)), { recursive: true });
      symlinkSync(posix.basename(program.file), join(rootfs, link));
    }
  }
  const xtables = `usr/lib/${platform.triplet}/xtables`;
  for (const f of readdirSync(join(tree, xtables)).filter((f) => f.endsWith('.so'))) {
    place(join(tree, realInTree(tree, `${xtables}/${f}`)), rootfs, `${xtables}/${f}`);
    elfs.push(join(rootfs, xtables, f));
  }
  copyWithLibraries(tree, rootfs, platform, elfs);
  for (const d of ['tmp', 'run', 'proc', 'sys', 'dev', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnonroot:x:65532:\n');
}

function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', ...digest.split(':'));
}

/** Writes a JSON blob into the layout; returns its descriptor fields. */
function writeJsonBlob(layout: string, value: unknown): { digest: string; size: number } {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  writeFileSync(blobPath(layout, digest), bytes);
  return { digest, size: bytes.length };
}

/** The layout as one tar, entries sorted, so the same layout gives the same archive bytes. */
function layoutArchive(layout: string, created: number): Buffer {
  const entries: TarEntry[] = [
    { path: 'blobs', mode: 0o755 },
    { path: 'blobs/sha256', mode: 0o755 },
    ...readdirSync(join(layout, 'blobs/sha256')).sort().map((f) => ({ path: `blobs/sha256/${f}`, data: readFileSync(join(layout, 'blobs/sha256', f)), mode: 0o644 })),
    { path: 'index.json', data: readFileSync(join(layout, 'index.json')), mode: 0o644 },
    { path: 'oci-layout', data: readFileSync(join(layout, 'oci-layout')), mode: 0o644 },
  ];
  return tarBytes(entries, created);
}

/**
 * Builds the multi-platform image into `<outDir>/<archiveName>`, working in `workDir`.
 * @throws when a tool fails or a program's library is missing from the packages.
 */
export async function buildAgentImage(inputs: ImageInputs, workDir: string, out: string): Promise<BuiltImage> {
  const agentDir = await buildAgent(join(workDir, 'agent-bundle'), false);
  const layout = join(workDir, 'oci');
  rmSync(layout, { recursive: true, force: true });
  run('umoci', ['init', '--layout', layout]);
  const stamp = new Date(inputs.created * 1000).toISOString();
  const labels = [`org.opencontainers.image.version=${inputs.version}`, `org.opencontainers.image.source=${SOURCE_URL}`,
    `org.opencontainers.image.title=${AGENT_IMAGE_REPOSITORY}`];
  const manifests: object[] = [];
  const sizes: BuiltImage['sizes'] = [];
  for (const { platform, nodeBinary, debs } of inputs.platforms) {
    const tag = platform.arch;
    const tree = join(workDir, `debian-${platform.debArch}`);
    rmSync(tree, { recursive: true, force: true });
    extractDebs(debs, tree);
    const bundle = join(workDir, `bundle-${platform.arch}`);
    rmSync(bundle, { recursive: true, force: true });
    run('umoci', ['new', '--image', `${layout}:${tag}`]);
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    await stageRootfs(rootfs, tree, agentDir, platform, nodeBinary);
    // Every timestamp in the layer is the release's, so rebuilding gives the same layer digest.
    run('find', [rootfs, '-exec', 'touch', '-h', '-d', `@${inputs.created}`, '{}', '+']);
    const rootfsBytes = Number(run('du', ['-sb', rootfs]).split('\t')[0]);
    run('umoci', ['repack', '--image', `${layout}:${tag}`, '--history.created', stamp, '--history.created_by', 'scripts/release/agent-image.ts', bundle]);
    run('umoci', ['config', '--image', `${layout}:${tag}`, '--created', stamp, '--history.created', stamp,
      '--history.created_by', 'scripts/release/agent-image.ts (config)',
      '--os', platform.os, '--architecture', platform.arch, '--config.user', NONROOT, '--config.env', PATH_ENV,
      '--config.workingdir', '/', ...AGENT_IMAGE_ENTRYPOINT.flatMap((e) => ['--config.entrypoint', e]),
      ...labels.flatMap((l) => ['--config.label', l])]);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; size: number; mediaType: string; annotations?: Record<string, string> }[] };
    const desc = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag)!;
    const manifest = JSON.parse(readFileSync(blobPath(layout, desc.digest), 'utf8')) as { layers: { size: number }[] };
    sizes.push({ arch: platform.arch, compressedBytes: manifest.layers.reduce((n, l) => n + l.size, 0), rootfsBytes });
    manifests.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, platform: { architecture: platform.arch, os: platform.os } });
    rmSync(bundle, { recursive: true, force: true });
    rmSync(tree, { recursive: true, force: true });
  }
  const imageIndex = writeJsonBlob(layout, { schemaVersion: 2, mediaType: MEDIA_INDEX, manifests, annotations: { 'org.opencontainers.image.version': inputs.version, 'org.opencontainers.image.source': SOURCE_URL } });
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_INDEX,
    manifests: [{ mediaType: MEDIA_INDEX, ...imageIndex, annotations: { [REF_NAME]: inputs.version } }],
  }));
  // Drops the blobs the per-platform tags and umoci's intermediate configs left unreferenced.
  run('umoci', ['gc', '--layout', layout]);
  writeFileSync(out, layoutArchive(layout, inputs.created));
  return { archive: out, sizes };
}
