/**
 * A container's root filesystem: a directory under the node's state dir that becomes `/` (chroot)
 * inside the container's own mount namespace. The host's /usr (and the merged-/usr symlinks) is
 * bound read-only, /etc and /var are copy-on-write overlays of the host's, /tmp /run /root are
 * tmpfs, /proc is the container's PID namespace's, and the kubelet's /etc/hosts, /etc/hostname and
 * /etc/resolv.conf are bound over the overlay, as container runtimes do. The repository is bound
 * read-only at its own path, so image commands (`node <repo>/...`) run unchanged.
 *
 * A container of an OCI image (oci-image.ts) gets the image's own root filesystem instead, as from a
 * container runtime: an overlay whose lower layer is the unpacked image and whose upper layer is
 * the container's own, with /proc, /sys and /dev, the kubelet's files and the volumes mounted on
 * it, and nothing of the host's.
 *
 * The mounting itself is a generated shell script run by `unshare --mount` (see container-launch.ts),
 * so it happens inside the container's mount namespace and vanishes with it.
 */
import { existsSync, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** One bind mount from the host into the container. */
export interface VolumeMount { source: string; target: string; readOnly: boolean }

export interface RootfsSpec {
  /** Per-container directory (rootfs, overlay upper/work dirs, the script). */
  dir: string;
  /** Files the kubelet manages for the pod: hosts, hostname, resolv.conf. */
  podFiles: { hosts: string; hostname: string; resolvConf: string };
  /** Read-only host directories visible at the same path (the repo, Node's own directory). */
  hostDirs: string[];
  volumes: VolumeMount[];
  /** securityContext.readOnlyRootFilesystem: / and the /etc, /var overlays end up read-only. */
  readOnly?: boolean;
  /** An OCI image's unpacked root filesystem: the container's / is an overlay on it (no host dirs). */
  imageRoot?: string;
}

/** POSIX shell single-quoting: any byte string becomes one word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const TOP_LEVEL_LINKS_OR_BINDS = ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32', 'usr', 'opt'];
const OVERLAYS = ['etc', 'var'];
const TMPFS = ['tmp', 'run', 'root', 'home'];

/** Drops `rel` path segments that would climb out of the rootfs. */
function inside(root: string, path: string): string {
  return join(root, ...path.split('/').filter((s) => s && s !== '..' && s !== '.'));
}

/**
 * Prepares the directories and writes the mount script; resolves to the script's path. The script
 * takes the command to run in the rootfs as its arguments (`sh script cmd args...`).
 */
export async function prepareRootfs(spec: RootfsSpec): Promise<{ script: string; root: string }> {
  const root = join(spec.dir, 'rootfs');
  await mkdir(root, { recursive: true });
  if (spec.imageRoot) return prepareImageRootfs(spec, spec.imageRoot, root);
  const lines = [
    'set -e',
    `R=${shellQuote(root)}`,
    // The rootfs as a mount of its own, so it can be made read-only at the end.
    'mount --bind "$R" "$R"',
    ...(await systemLines(root)),
    ...(await overlayAndTmpfsLines(root, spec.dir)),
    ...podFileLines(spec.podFiles),
    ...(await hostDirLines(root, spec.hostDirs)),
    ...spec.volumes.flatMap((v) => volumeLines(v, root)),
  ];
  // Read-only last, once the kubelet's files and the volumes' mount points exist. /tmp, /run and
  // the volumes stay writable (for /tmp and /run a deviation: a real read-only root has neither).
  if (spec.readOnly) lines.push(...OVERLAYS.map((n) => `mount -o remount,ro "$R/${n}"`), 'mount -o remount,bind,ro "$R"');
  lines.push(`hostname -F ${shellQuote(spec.podFiles.hostname)}`, 'exec chroot "$R" "$@"');
  const script = join(spec.dir, 'mount-rootfs.sh');
  await writeFile(script, lines.join('\n') + '\n');
  return { script, root };
}

/**
 * The OCI image variant. Its script ends in `exec "$@"`, not in a chroot: the image holds none of
 * the host's tools, so the launcher enters the root itself (container-launch.ts, `unshare --root`).
 */
async function prepareImageRootfs(spec: RootfsSpec, imageRoot: string, root: string): Promise<{ script: string; root: string }> {
  const upper = join(spec.dir, 'root-upper');
  const work = join(spec.dir, 'root-work');
  await Promise.all([mkdir(upper, { recursive: true }), mkdir(work, { recursive: true })]);
  const lines = [
    'set -e',
    `R=${shellQuote(root)}`,
    `mount -t overlay overlay -o ${shellQuote(`lowerdir=${imageRoot},upperdir=${upper},workdir=${work}`)} "$R"`,
    // Mount points a runtime creates when the image lacks them (runc libcontainer/rootfs_linux.go).
    'mkdir -p "$R/proc" "$R/sys" "$R/dev" "$R/etc"',
    'mount -t proc proc "$R/proc"', 'mount -t sysfs -o ro sysfs "$R/sys"', 'mount --rbind /dev "$R/dev"',
    ...podFileLines(spec.podFiles),
    // The image's own symlinks decide where a volume lands (it has no /var -> /run link of the host's).
    ...spec.volumes.flatMap((v) => volumeLines(v, root, imagePath(imageRoot, v.target))),
  ];
  if (spec.readOnly) lines.push('mount -o remount,ro "$R"');
  lines.push(`hostname -F ${shellQuote(spec.podFiles.hostname)}`, 'exec "$@"');
  const script = join(spec.dir, 'mount-rootfs.sh');
  await writeFile(script, lines.join('\n') + '\n');
  return { script, root };
}

/** /usr (and /opt) bound read-only; merged-/usr links (/bin -> usr/bin) copied as links. */
async function systemLines(root: string): Promise<string[]> {
  const lines: string[] = [];
  for (const name of TOP_LEVEL_LINKS_OR_BINDS) {
    const host = `/${name}`;
    if (!existsSync(host)) continue;
    const at = join(root, name);
    if (lstatSync(host).isSymbolicLink()) {
      await rm(at, { force: true, recursive: true });
      await symlink(readlinkSync(host), at);
    } else {
      await mkdir(at, { recursive: true });
      lines.push(`mount --bind -o ro ${host} "$R/${name}"`);
    }
  }
  return lines;
}

/** Copy-on-write /etc and /var, tmpfs /tmp /run /root /home, and the kernel filesystems. */
async function overlayAndTmpfsLines(root: string, dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const name of OVERLAYS) {
    const upper = join(dir, `${name}-upper`);
    const work = join(dir, `${name}-work`);
    await Promise.all([mkdir(upper, { recursive: true }), mkdir(work, { recursive: true }), mkdir(join(root, name), { recursive: true })]);
    lines.push(`mount -t overlay overlay -o ${shellQuote(`lowerdir=/${name},upperdir=${upper},workdir=${work}`)} "$R/${name}"`);
  }
  for (const name of TMPFS) {
    await mkdir(join(root, name), { recursive: true });
    lines.push(`mount -t tmpfs -o mode=${name === 'tmp' ? '1777' : '755'} tmpfs "$R/${name}"`);
  }
  for (const name of ['proc', 'sys', 'dev']) await mkdir(join(root, name), { recursive: true });
  lines.push('mount -t proc proc "$R/proc"', 'mount -t sysfs -o ro sysfs "$R/sys"', 'mount --rbind /dev "$R/dev"');
  return lines;
}

/** The kubelet's /etc/hosts, /etc/hostname and /etc/resolv.conf, bound over the overlay's. */
function podFileLines(files: RootfsSpec['podFiles']): string[] {
  return ([['hosts', files.hosts], ['hostname', files.hostname], ['resolv.conf', files.resolvConf]] as const).flatMap(([file, source]) => [
    // A symlinked /etc/resolv.conf (systemd-resolved) is replaced by a plain file to bind onto.
    `rm -f "$R/etc/${file}"; : > "$R/etc/${file}"`,
    `mount --bind ${shellQuote(source)} "$R/etc/${file}"`,
  ]);
}

/** Host directories (the repository, Node) read-only at their own paths. */
async function hostDirLines(root: string, dirs: string[]): Promise<string[]> {
  const lines: string[] = [];
  for (const dir of uniqueHostDirs(dirs)) {
    const at = inside(root, dir);
    await mkdir(at, { recursive: true });
    // Made again in the script: a checkout under /tmp, /run, /root or /home lies below a tmpfs
    // mounted above, which hides the directory made here.
    lines.push(`mkdir -p ${shellQuote(at)}`, `mount --bind -o ro ${shellQuote(dir)} ${shellQuote(at)}`);
  }
  return lines;
}

/**
 * A container path with the symlinks of the host layers it lies in resolved, as the container sees
 * them: the /etc and /var overlays and the system directories show the host's files, so
 * `/var/run/secrets/...` is `/run/secrets/...` where the host links /var/run to /run. Resolving on
 * the host instead (mkdir -p through an absolute link) would land outside the rootfs.
 */
function containerPath(target: string): string {
  let parts = target.split('/').filter((s) => s && s !== '..' && s !== '.');
  for (let hops = 0, i = 0; i < parts.length && hops < 16; i++) {
    if (![...OVERLAYS, ...TOP_LEVEL_LINKS_OR_BINDS].includes(parts[0])) break;
    const host = `/${parts.slice(0, i + 1).join('/')}`;
    if (!existsSync(host) || !lstatSync(host).isSymbolicLink()) continue;
    const link = readlinkSync(host);
    const base = link.startsWith('/') ? [] : parts.slice(0, i);
    parts = [...base, ...link.split('/').filter((s) => s && s !== '.'), ...parts.slice(i + 1)].reduce<string[]>((acc, s) => (s === '..' ? acc.slice(0, -1) : [...acc, s]), []);
    hops++;
    i = -1;
  }
  return `/${parts.join('/')}`;
}

/**
 * A container path with the symlinks of an OCI image's root resolved inside that root (a link is
 * read from the image, an absolute one restarts at the image's root), as the container will see it.
 */
function imagePath(imageRoot: string, target: string): string {
  let parts = target.split('/').filter((s) => s && s !== '.');
  for (let hops = 0, i = 0; i < parts.length && hops < 16; i++) {
    if (parts[i] === '..') {
      parts = [...parts.slice(0, Math.max(0, i - 1)), ...parts.slice(i + 1)];
      i = Math.max(-1, i - 2);
      continue;
    }
    const inImage = join(imageRoot, ...parts.slice(0, i + 1));
    if (!existsSync(inImage) || !lstatSync(inImage).isSymbolicLink()) continue;
    const link = readlinkSync(inImage);
    const base = link.startsWith('/') ? [] : parts.slice(0, i);
    parts = [...base, ...link.split('/').filter((x) => x && x !== '.'), ...parts.slice(i + 1)];
    hops++;
    i = -1;
  }
  return `/${parts.join('/')}`;
}

function volumeLines(v: VolumeMount, root: string, containerTarget = containerPath(v.target)): string[] {
  const at = shellQuote(inside(root, containerTarget));
  // Followed: a subPath of an AtomicWriter volume is a `key -> ..data/key` link, which a bind mount follows too.
  const isFile = existsSync(v.source) && !statSync(v.source).isDirectory();
  const make = isFile ? `mkdir -p "$(dirname ${at})"; [ -e ${at} ] || : > ${at}` : `mkdir -p ${at}`;
  return [make, `mount --bind${v.readOnly ? ' -o ro' : ''} ${shellQuote(v.source)} ${at}`];
}

/** Drops directories already covered by another in the list (binding both would hide the inner). */
function uniqueHostDirs(dirs: string[]): string[] {
  const real = [...new Set(dirs.map((d) => realpathSync(d)))].sort();
  return real.filter((d, i) => !real.slice(0, i).some((p) => d === p || d.startsWith(p + '/')));
}

/** The node-wide list of host directories a container needs: the repo and Node's install dir. */
export function defaultHostDirs(repoRoot: string): string[] {
  return [repoRoot, dirname(dirname(realpathSync(process.execPath)))];
}
