/**
 * `npm run release`: writes dist/ (or `--out DIR`) with everything a release publishes:
 *
 *   kubectl-mirrord_<version>_linux_{amd64,arm64}.tar.gz   the CLI as a single executable, the exec layer
 *                                                           (libkubectl_mirrord_layer.so), LICENSE, README.md
 *   krew/mirrord.yaml                                       the krew plugin manifest
 *   kubectl-mirrord-agent_<version>_oci.tar                 the agent image (OCI archive, amd64 + arm64)
 *   SHA256SUMS                                              sha256sum(1) format, of every file above
 *
 * Options:
 *   --out DIR     write there instead of dist/ (the folder is replaced)
 *   --offline     use only what is cached: npm's cache for the Node binaries, the .deb cache
 *   --fetch       only download what a build needs (Node binaries into npm's cache, .debs), then stop
 *   --no-image    skip the agent image
 *
 * Environment: KUBECTL_MIRRORD_RELEASE_URL (where the archives will be downloaded from; see
 * krew-manifest.ts), SOURCE_DATE_EPOCH (timestamps; default: the last commit's time).
 * The same inputs give the same bytes, so running it twice gives the same dist/.
 * Exit codes: 0 done, 2 bad usage or version, 1 a build step failed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAgentImage, type BuiltImage } from './release/agent-image.ts';
import { imageDebs } from './release/debian-packages.ts';
import { buildExecLayer, buildMemoryAddon } from './release/native-builds.ts';
import { krewManifest, releaseBaseUrl } from './release/krew-manifest.ts';
import { fetchNodeBinary } from './release/node-binary.ts';
import { archiveMembers, archiveName, EXECUTABLE, imageArchiveName, RELEASE_PLATFORMS } from './release/platforms.ts';
import { bundleCli, injectSea, seaBlob } from './release/sea.ts';
import { tarGz } from './release/tar-writer.ts';
import { checkReleaseVersion, ReleaseVersionError } from './release/version.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Downloads kept between runs (the .debs); npm keeps the Node packages in its own cache. */
export const RELEASE_CACHE = join(root, 'node_modules/.cache/kubectl-mirrord');

export interface ReleaseOptions { out: string; offline: boolean; image: boolean }

export interface ReleaseResult { version: string; files: string[]; image?: BuiltImage }

class UsageError extends Error {}

function parseArgs(argv: string[]): ReleaseOptions & { fetch: boolean } {
  const options = { out: join(root, 'dist'), offline: false, image: true, fetch: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--offline') options.offline = true;
    else if (a === '--fetch') options.fetch = true;
    else if (a === '--no-image') options.image = false;
    else if (a === '--out') {
      if (!argv[i + 1]) throw new UsageError('--out needs a directory');
      options.out = resolve(argv[++i]);
    } else throw new UsageError(`unknown option ${a}; accepted: --out DIR, --offline, --fetch, --no-image`);
  }
  return options;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
  return checkReleaseVersion(pkg.version);
}

/** SOURCE_DATE_EPOCH, else the last commit's time, else 0. */
function createdEpoch(): number {
  if (process.env.SOURCE_DATE_EPOCH) {
    const n = Number(process.env.SOURCE_DATE_EPOCH);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, not ${process.env.SOURCE_DATE_EPOCH}`);
    return n;
  }
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) || 0;
  } catch {
    return 0;
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Downloads everything a build uses, so a later `--offline` build (and npm test) needs no network. */
export function fetchInputs(): void {
  const work = mkdtempSync(join(tmpdir(), 'kmrd-fetch-'));
  try {
    for (const p of RELEASE_PLATFORMS) {
      fetchNodeBinary(p.nodeArch, process.versions.node, work, false);
      imageDebs(RELEASE_CACHE, p.debArch, false);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Builds the release into `options.out` (replaced as a whole once everything is built). */
export async function release(options: ReleaseOptions): Promise<ReleaseResult> {
  const version = packageVersion();
  const created = createdEpoch();
  const work = mkdtempSync(join(tmpdir(), 'kmrd-release-'));
  const staging = `${options.out}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'krew'), { recursive: true });
  try {
    const docs: Record<string, Buffer> = { 'LICENSE': readFileSync(join(root, 'LICENSE')), 'README.md': readFileSync(join(root, 'README.md')) };
    const blob = seaBlob(await bundleCli(root, work), work);
    const nodeBinaries = new Map<string, string>();
    const archives = [];
    for (const platform of RELEASE_PLATFORMS) {
      const node = fetchNodeBinary(platform.nodeArch, process.versions.node, work, options.offline);
      nodeBinaries.set(platform.arch, node);
      const exe = join(work, `${EXECUTABLE}-${platform.arch}`);
      injectSea(platform, node, blob, exe);
      const files: Record<string, Buffer> = { ...docs, [EXECUTABLE]: readFileSync(exe) };
      if (platform.execLayer) files[platform.execLayer.file] = readFileSync(buildExecLayer(root, platform, work));
      if (platform.memoryAddon) files[platform.memoryAddon.file] = readFileSync(buildMemoryAddon(root, platform, work));
      const data = tarGz(archiveMembers(platform).map((m) => ({ path: m.path, mode: m.mode, data: files[m.path] })), created);
      const name = archiveName(version, platform);
      writeFileSync(join(staging, name), data);
      archives.push({ platform, sha256: sha256(data) });
    }
    writeFileSync(join(staging, 'krew/mirrord.yaml'), krewManifest(version, archives, releaseBaseUrl(version)));
    let image: BuiltImage | undefined;
    if (options.image) {
      image = await buildAgentImage({
        version, created,
        platforms: RELEASE_PLATFORMS.map((platform) => ({ platform, nodeBinary: nodeBinaries.get(platform.arch)!, debs: imageDebs(RELEASE_CACHE, platform.debArch, options.offline) })),
      }, work, join(staging, imageArchiveName(version)));
    }
    const files = [...RELEASE_PLATFORMS.map((p) => archiveName(version, p)), 'krew/mirrord.yaml', ...(options.image ? [imageArchiveName(version)] : [])];
    writeFileSync(join(staging, 'SHA256SUMS'), files.map((f) => `${sha256(readFileSync(join(staging, f)))}  ${f}\n`).join(''));
    rmSync(options.out, { recursive: true, force: true });
    renameSync(staging, options.out);
    return { version, files: [...files, 'SHA256SUMS'], image };
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const options = parseArgs(process.argv.slice(2));
    if (options.fetch) {
      fetchInputs();
      console.log('fetched the Node binaries (npm cache) and the agent image\'s Debian packages');
    } else {
      const result = await release(options);
      for (const f of result.files) console.log(`wrote ${relative(process.cwd(), join(options.out, f)) || f}`);
      for (const s of result.image?.sizes ?? []) {
        console.log(`agent image linux/${s.arch}: ${(s.compressedBytes / 1e6).toFixed(1)} MB compressed, ${(s.rootfsBytes / 1e6).toFixed(1)} MB unpacked`);
      }
    }
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof ReleaseVersionError;
    console.error(`error: ${(err as Error).message}`);
    process.exitCode = usage ? 2 : 1;
  }
}
