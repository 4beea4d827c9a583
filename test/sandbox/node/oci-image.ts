/**
 * Images the node runs from an OCI archive (a tar of an OCI image layout, image-layout.md of the
 * OCI image spec) or a layout directory, as a container runtime pulls them: the archive's index.json names the image by
 * tag (`org.opencontainers.image.ref.name`), an image index picks this node's platform
 * (linux/amd64), the manifest lists the layers, and the config gives Entrypoint, Cmd, Env, User
 * and WorkingDir. Layers are applied in order into one root filesystem per manifest digest,
 * kept for the node's lifetime and shared read-only by every container of that image (each
 * container writes to an overlay above it; container-rootfs.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MEDIA_INDEX = 'application/vnd.oci.image.index.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';
/** This node's platform, as an image index names it. */
const NODE_PLATFORM = { os: 'linux', architecture: 'amd64' };

/** An image's runtime configuration (the config blob's `config`), with its unpacked root. */
export interface OciImage {
  rootfs: string;
  /** `sha256:<hex>` of the platform's manifest (what a kubelet reports in imageID). */
  digest: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  /** `uid[:gid]`, numeric, or undefined for root. */
  user?: { uid: number; gid?: number };
  workingDir?: string;
}

/** The archive has no image under the requested tag, or none for this node's platform. */
export class OciNotFoundError extends Error {}

interface Descriptor { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: { os: string; architecture: string } }

function blob(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (alg !== 'sha256' || !/^[a-f0-9]{64}$/.test(hex)) throw new Error(`unsupported digest ${digest}`);
  return join(layout, 'blobs', alg, hex);
}

async function readJson(path: string): Promise<any> {
  return JSON.parse(await readFile(path, 'utf8'));
}

/** OCI image-spec layer.md whiteouts: `.wh.<name>` deletes <name>, `.wh..wh..opq` empties the directory. */
async function applyWhiteouts(dir: string): Promise<void> {
  const names = await readdir(dir);
  if (names.includes('.wh..wh..opq')) throw new Error('opaque whiteouts (multi-layer directory replacement) are not supported by the sandbox');
  const whiteouts = names.filter((n) => n.startsWith('.wh.'));
  for (const name of whiteouts) {
    await rm(join(dir, name.slice(4)), { recursive: true, force: true });
    await rm(join(dir, name), { force: true });
  }
  const gone = new Set(whiteouts.flatMap((n) => [n, n.slice(4)]));
  for (const name of names.filter((n) => !gone.has(n))) {
    if ((await lstat(join(dir, name))).isDirectory()) await applyWhiteouts(join(dir, name));
  }
}

function parseUser(user: string | undefined): OciImage['user'] {
  if (!user) return undefined;
  const [u, g] = user.split(':');
  if (!/^\d+$/.test(u) || (g !== undefined && !/^\d+$/.test(g))) {
    // A runtime would look the name up in the image's /etc/passwd; the sandbox's images use numbers.
    throw new Error(`image user "${user}" is not numeric uid[:gid]`);
  }
  return { uid: Number(u), ...(g !== undefined ? { gid: Number(g) } : {}) };
}

const unpacked = new Map<string, Promise<OciImage>>();

/**
 * Resolves `tag` in the OCI archive (or image layout directory) at `archive` to this node's image, unpacking it under
 * `cacheDir` once per manifest digest.
 * @throws OciNotFoundError when the archive lacks the tag or the platform.
 */
export async function pullOciImage(archive: string, tag: string | undefined, cacheDir: string): Promise<OciImage> {
  if (!existsSync(archive)) throw new OciNotFoundError(`the image archive ${archive} does not exist`);
  // An image layout directory is read in place; an archive is unpacked once per content.
  const isLayout = existsSync(join(archive, 'index.json'));
  const layout = isLayout ? archive : join(cacheDir, 'layouts', (await run('sha256sum', [archive])).stdout.slice(0, 16));
  if (!isLayout && !existsSync(join(layout, 'index.json'))) {
    await mkdir(`${layout}.tmp`, { recursive: true });
    await run('tar', ['-xf', archive, '-C', `${layout}.tmp`]);
    await rename(`${layout}.tmp`, layout);
  }
  const index = await readJson(join(layout, 'index.json'));
  const tags = (index.manifests as Descriptor[]).map((d) => d.annotations?.[REF_NAME]).filter(Boolean);
  let desc = (index.manifests as Descriptor[]).find((d) => tag === undefined ? true : d.annotations?.[REF_NAME] === tag);
  if (!desc) throw new OciNotFoundError(`tag ${tag} not found (the archive has ${tags.join(', ') || 'no tags'})`);
  if (desc.mediaType === MEDIA_INDEX) {
    const nested = await readJson(blob(layout, desc.digest));
    desc = (nested.manifests as Descriptor[]).find((d) => d.platform?.os === NODE_PLATFORM.os && d.platform?.architecture === NODE_PLATFORM.architecture);
    if (!desc) throw new OciNotFoundError(`no match for platform in manifest: not found (the index has no ${NODE_PLATFORM.os}/${NODE_PLATFORM.architecture} image)`);
  }
  const digest = desc.digest;
  let image = unpacked.get(digest);
  if (!image) {
    image = unpack(layout, digest, join(cacheDir, 'rootfs', digest.replace(':', '-')));
    unpacked.set(digest, image);
    image.catch(() => unpacked.delete(digest));
  }
  return image;
}

async function unpack(layout: string, digest: string, dir: string): Promise<OciImage> {
  const manifest = await readJson(blob(layout, digest));
  const config = (await readJson(blob(layout, manifest.config.digest))).config ?? {};
  const rootfs = join(dir, 'rootfs');
  if (!existsSync(join(dir, 'complete'))) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(rootfs, { recursive: true });
    for (const layer of manifest.layers as Descriptor[]) {
      const gzip = layer.mediaType.endsWith('+gzip');
      await run('tar', [gzip ? '-xzf' : '-xf', blob(layout, layer.digest), '-C', rootfs, '--numeric-owner', '--same-permissions', '--same-owner']);
      await applyWhiteouts(rootfs);
    }
    await mkdir(join(dir, 'complete'));
  }
  return {
    rootfs, digest,
    entrypoint: config.Entrypoint ?? [], cmd: config.Cmd ?? [], env: config.Env ?? [],
    user: parseUser(config.User), workingDir: config.WorkingDir || undefined,
  };
}
