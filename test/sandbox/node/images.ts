/**
 * The node's "image store": test/sandbox/images/images.json maps image names either to programs on
 * this machine, which containers run in a root filesystem made of the host's /usr (see
 * container-rootfs.ts), or to an OCI archive (`oci`), whose own root filesystem and entrypoint the
 * container runs, as on a real node (oci-image.ts). The agent image is the release's OCI archive.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';

/** What an image runs, with {node}/{repo}/{images} already substituted. */
export interface Image {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  /** An OCI archive to pull the image from (its config replaces entrypoint, cmd and env). */
  oci?: string;
}

interface ImageEntry { names: string[]; entrypoint?: string[]; cmd?: string[]; env?: string[]; oci?: string }

/** `ghcr.io/x/agent:v1` → `v1`; undefined without a tag. Only OCI archives check the tag. */
export function tagOf(image: string): string | undefined {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : undefined;
}

/** `ghcr.io/x/agent:v1@sha256:..` → `ghcr.io/x/agent`: tags and digests never change the mapping. */
export function repositoryOf(image: string): string {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** `imageID` as a kubelet reports it: `<repository>@sha256:<digest>` (made up, stable per name). */
export function imageIdOf(image: string): string {
  const repo = repositoryOf(image);
  return `${repo}@sha256:${createHash('sha256').update(repo).digest('hex')}`;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*') + '$');
}

/** Loads the registry file; `resolve` answers undefined for an image it does not hold. */
export class ImageRegistry {
  readonly #entries: ImageEntry[];
  readonly #vars: Record<string, string>;

  /** `imagesDir`: where OCI archives are staged (`{images}`; see test/sandbox/agent-image.ts). */
  constructor(registryFile: string, repoRoot: string, imagesDir = join(repoRoot, '.sandbox/images')) {
    const parsed = JSON.parse(readFileSync(registryFile, 'utf8')) as { images: ImageEntry[] };
    this.#entries = parsed.images;
    this.#vars = { node: process.execPath, nodeDir: dirname(process.execPath), repo: resolve(repoRoot), images: resolve(imagesDir) };
  }

  /** The default registry: `<repoRoot>/test/sandbox/images/images.json`. */
  static forRepo(repoRoot: string, imagesDir?: string): ImageRegistry {
    return new ImageRegistry(join(repoRoot, 'test/sandbox/images/images.json'), repoRoot, imagesDir);
  }

  resolve(image: string): Image | undefined {
    const repo = repositoryOf(image);
    const entry = this.#entries.find((e) => e.names.some((n) => globToRegExp(n).test(repo)));
    if (!entry) return undefined;
    const sub = (s: string) => s.replace(/\{(\w+)\}/g, (m, k: string) => this.#vars[k] ?? m);
    return {
      entrypoint: (entry.entrypoint ?? []).map(sub), cmd: (entry.cmd ?? []).map(sub), env: (entry.env ?? []).map(sub),
      ...(entry.oci ? { oci: sub(entry.oci) } : {}),
    };
  }
}
