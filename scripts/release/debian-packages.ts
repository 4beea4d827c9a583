/**
 * Debian packages for the agent image's root filesystem: `apt-get download <pkg>:<arch>` into a
 * cache (arm64 needs `dpkg --add-architecture arm64` and `apt-get update` first), then `dpkg -x`
 * into a tree from which only the needed files are taken (see agent-image.ts). The downloaded
 * .deb file names carry their versions, so they are part of the image's inputs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the agent image runs, by package: glibc and the C++ runtime (node), iptables and its
 * libraries and xtables modules, ipset (the set tool for expiring redirects), and the Job
 * fallback's shell steps: dash, grep, util-linux's nsenter and setpriv.
 */
export const IMAGE_PACKAGES = [
  'libc6', 'libstdc++6', 'libgcc-s1',
  'iptables', 'libxtables12', 'libip4tc2', 'libip6tc2', 'libnftnl11', 'libmnl0', 'libnetfilter-conntrack3', 'libnfnetlink0',
  'ipset', 'libipset13',
  'dash', 'grep', 'libpcre2-8-0', 'util-linux', 'libselinux1', 'libcap-ng0',
] as const;

export class DebianPackageError extends Error {
  override name = 'DebianPackageError';
}

/** The cache folder of one architecture's .debs. */
export function debCacheDir(cacheRoot: string, debArch: string): string {
  return join(cacheRoot, 'debs', debArch);
}

/** The cached .deb of `pkg`, or undefined. */
function cachedDeb(dir: string, pkg: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const name = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  return name && join(dir, name);
}

/**
 * The .deb files of IMAGE_PACKAGES for `debArch`, downloading the missing ones unless `offline`.
 * @throws DebianPackageError naming the packages it cannot get and how to get them.
 */
export function imageDebs(cacheRoot: string, debArch: string, offline: boolean): string[] {
  const dir = debCacheDir(cacheRoot, debArch);
  mkdirSync(dir, { recursive: true });
  const missing = IMAGE_PACKAGES.filter((p) => !cachedDeb(dir, p));
  if (missing.length && offline) {
    throw new DebianPackageError(`the agent image needs Debian packages not in ${dir}: ${missing.map((p) => `${p}:${debArch}`).join(' ')}; ` +
      'fetch them with `npm run release -- --fetch` (arm64 needs `dpkg --add-architecture arm64 && apt-get update` first)');
  }
  if (missing.length) {
    const tmp = join(dir, '.download');
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    try {
      execFileSync('apt-get', ['download', ...missing.map((p) => `${p}:${debArch}`)], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
      throw new DebianPackageError(`apt-get download of ${missing.map((p) => `${p}:${debArch}`).join(' ')} failed: ${stderr.split('\n').slice(-2).join(' ')}` +
        (debArch !== 'amd64' ? ` (is the architecture added? dpkg --add-architecture ${debArch} && apt-get update)` : ''));
    }
    for (const f of readdirSync(tmp)) renameSync(join(tmp, f), join(dir, f));
    rmSync(tmp, { recursive: true, force: true });
  }
  return IMAGE_PACKAGES.map((p) => cachedDeb(dir, p)!);
}

/** Unpacks every .deb into `tree` (no maintainer scripts run: dpkg -x only extracts). */
export function extractDebs(debs: string[], tree: string): void {
  mkdirSync(tree, { recursive: true });
  for (const deb of debs) execFileSync('dpkg-deb', ['-x', deb, tree]);
}
