/**
 * Writes a configMap, secret, projected or downwardAPI volume the way the kubelet's AtomicWriter
 * does (kubernetes pkg/volume/util/atomic_writer.go), so programs in pods, and the agent reading
 * them through /proc/<pid>/root, meet the same symlinks as on a real node:
 *
 *   <volume>/..2026_12_02_04_50_00.1234567890/   the payload, in a fresh timestamped directory
 *   <volume>/..data -> ..2026_12_02_04_50_00.1234567890
 *   <volume>/<key>  -> ..data/<key>             one link per top-level name of the payload
 *
 * A new payload goes into a new timestamped directory, `..data` is swapped to it with a rename
 * (atomic), the links of names no longer in the payload are removed, then the old directory. Paths
 * with a `/` (items: [{path: "a/b"}]) are files below a directory `a`, whose link is `a -> ..data/a`.
 */
import { chmod, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** One file of a volume's payload: its contents and mode. */
export interface PayloadFile {
  content: Buffer;
  mode: number;
}

export const DATA_DIR_NAME = '..data';

/** `..2006_01_02_15_04_05.` in UTC, the prefix the kubelet gives os.MkdirTemp. */
function timestampPrefix(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

/** The top-level names of a payload (`a/b` gives `a`). */
function topLevel(paths: Iterable<string>): Set<string> {
  return new Set([...paths].map((p) => p.split('/')[0]));
}

/** Checks a payload path as the kubelet's validatePath does: relative, no `..` element, not starting with `..`. */
function checkPath(path: string): void {
  const parts = path.split('/');
  if (path === '' || path.startsWith('/') || parts.includes('..') || path.startsWith('..')) {
    throw new Error(`invalid volume item path ${JSON.stringify(path)}: must be relative, without '..' elements, and not start with '..'`);
  }
}

/** Writes `payload` into `dir` atomically (see the file comment). `dir` is created if missing. */
export async function writeAtomic(dir: string, payload: Map<string, PayloadFile>): Promise<void> {
  for (const path of payload.keys()) checkPath(path);
  await mkdir(dir, { recursive: true });
  const oldTs = await readlink(join(dir, DATA_DIR_NAME)).catch(() => undefined);
  const tsDir = await mkdtemp(join(dir, timestampPrefix()));
  await chmod(tsDir, 0o755);
  for (const [path, file] of payload) {
    const at = join(tsDir, path);
    await mkdir(dirname(at), { recursive: true });
    await writeFile(at, file.content);
    await chmod(at, file.mode);
  }
  // ..data_tmp then rename over ..data: the swap is one rename(2), so a reader sees the old payload or the new.
  const tmpLink = join(dir, '..data_tmp');
  await rm(tmpLink, { force: true });
  await symlink(tsDir.slice(dir.length + 1), tmpLink);
  await rename(tmpLink, join(dir, DATA_DIR_NAME));
  const names = topLevel(payload.keys());
  for (const name of names) {
    const link = join(dir, name);
    const current = await readlink(link).catch(() => undefined);
    if (current === join(DATA_DIR_NAME, name)) continue;
    await rm(link, { force: true, recursive: true });
    await symlink(join(DATA_DIR_NAME, name), link);
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..') || names.has(entry)) continue;
    await rm(join(dir, entry), { force: true, recursive: true });
  }
  if (oldTs && oldTs !== tsDir.slice(dir.length + 1)) await rm(join(dir, oldTs), { recursive: true, force: true });
}
