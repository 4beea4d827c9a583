/**
 * Resolves a path inside a container's root as openat2(2) with RESOLVE_IN_ROOT does, without
 * openat2 (Node has none): the walk goes one component at a time from a directory file descriptor,
 * so no component is ever resolved by the kernel against the agent's own root.
 *
 * - The root is `/proc/<pid>/root` of the target's main process: a magic link to that process's
 *   root directory, in its mount namespace (proc(5)), opened once as an O_PATH descriptor.
 * - Each component is looked up in the directory opened last, through `/proc/self/fd/<fd>/<name>`
 *   (the magic link stands for the open directory itself, as openat(fd, name) would), with lstat:
 *   the kernel never follows a symlink for us.
 * - A symlink's contents are read and pushed in front of the components still to walk; an absolute
 *   target restarts at the container's root, never at the agent's.
 * - `..` pops the directory stack and stays at the root when there is nothing to pop, as
 *   RESOLVE_IN_ROOT treats `..` at the root.
 * - More than 40 symlinks on one path is ELOOP (MAXSYMLINKS in the kernel's fs/namei.c).
 *
 * Directories are opened O_PATH (open(2)): only search permission is needed to walk through one,
 * as for the kernel's own walk.
 */
import { closeSync, constants, lstatSync, openSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { POSIX_ERROR_NAMES, posixError, type PosixErrorName } from '../../src/protocol/request-errors.ts';
import type { RequestError } from '../../src/protocol/request-errors.ts';

/** open(2)'s O_PATH (010000000 on x86_64 and arm64, asm-generic/fcntl.h); Node does not name it. */
export const O_PATH = 0o10000000;

/** The kernel's limit of symlinks followed on one path (fs/namei.c MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

/** Where a path ended: the last component `name` (`.` for the directory itself) in the open directory `dirFd`. */
export interface ResolvedPath {
  dirFd: number;
  name: string;
  /** `/proc/self/fd/<dirFd>/<name>`: use it for exactly one system call that does not follow a final symlink. */
  at: string;
  /** Closes every descriptor the walk opened. */
  close(): void;
}

export interface ResolveOptions {
  /** Follow a symlink in the last component (stat), or not (lstat, readlink). */
  followLast: boolean;
}

/** The EPOSIX error for a failed system call on `path`, named as the call named it (EIO for a code outside POSIX_ERROR_NAMES). */
export function callError(err: unknown, path: string): RequestError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const name: PosixErrorName = (POSIX_ERROR_NAMES as readonly string[]).includes(code) ? code as PosixErrorName : 'EIO';
  const what = DESCRIPTIONS[name] ?? `${(err as Error).message}`;
  return posixError(name, `${path}: ${what} (in the target container)`);
}

const DESCRIPTIONS: Partial<Record<PosixErrorName, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: `too many levels of symbolic links (more than ${MAX_SYMLINK_HOPS})`,
  ENAMETOOLONG: 'a component of the path is too long',
  EISDIR: 'is a directory',
};

/** The root itself could not be opened (the caller explains why: no access to another user's /proc/<pid>/root). */
export class RootOpenError extends Error {
  readonly code: string;
  constructor(root: string, cause: NodeJS.ErrnoException) {
    super(`cannot open ${root}: ${cause.message}`);
    this.code = cause.code ?? 'EIO';
  }
}

function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

function fdPath(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

/**
 * Resolves `path` (absolute, as the container sees it) inside `root`. The caller must call
 * `close()` on the result. A missing last component is not an error here (the caller's system call
 * reports ENOENT); a missing directory on the way is.
 * @throws RequestError EPOSIX (ENOENT, ENOTDIR, ELOOP, EACCES, ...) naming `path`.
 */
export function resolveInRoot(root: string, path: string, options: ResolveOptions): ResolvedPath {
  let rootFd: number;
  try {
    rootFd = openSync(root, O_PATH | constants.O_DIRECTORY);
  } catch (err) {
    throw new RootOpenError(root, err as NodeJS.ErrnoException);
  }
  const stack = [rootFd];
  const close = () => { for (const fd of stack.splice(0)) closeSync(fd); };
  try {
    const found = walk(stack, path, options);
    return { ...found, at: fdPath(found.dirFd, found.name), close };
  } catch (err) {
    close();
    throw err;
  }
}

function walk(stack: number[], path: string, options: ResolveOptions): { dirFd: number; name: string } {
  const queue = components(path);
  // A trailing slash asks for a directory, following a final symlink (path_resolution(7)).
  const trailingSlash = path.endsWith('/') && queue.length > 0;
  const follow = options.followLast || trailingSlash;
  let hops = 0;
  const top = () => stack[stack.length - 1];
  while (queue.length > 0) {
    const name = queue.shift()!;
    const last = queue.length === 0;
    if (name === '..') {
      if (stack.length > 1) closeSync(stack.pop()!);
      continue;
    }
    const at = fdPath(top(), name);
    let st: Stats;
    try {
      st = lstatSync(at);
    } catch (err) {
      if (last && (err as NodeJS.ErrnoException).code === 'ENOENT') return { dirFd: top(), name };
      throw callError(err, path);
    }
    if (st.isSymbolicLink() && (!last || follow)) {
      if (++hops > MAX_SYMLINK_HOPS) throw callError({ code: 'ELOOP' }, path);
      const target = readTarget(at, path);
      if (target.startsWith('/')) while (stack.length > 1) closeSync(stack.pop()!);
      queue.unshift(...components(target));
      continue;
    }
    if (last) {
      if (trailingSlash && !st.isDirectory()) throw callError({ code: 'ENOTDIR' }, path);
      return { dirFd: top(), name };
    }
    if (!st.isDirectory()) throw callError({ code: 'ENOTDIR' }, path);
    stack.push(openDir(at, path));
  }
  // The path named a directory itself: "/", "/a/..", or a link to one of those.
  return { dirFd: top(), name: '.' };
}

function readTarget(at: string, path: string): string {
  try {
    return readlinkSync(at);
  } catch (err) {
    throw callError(err, path);
  }
}

function openDir(at: string, path: string): number {
  try {
    // O_NOFOLLOW: a component swapped for a symlink since its lstat fails instead of being followed.
    return openSync(at, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    throw callError(err, path);
  }
}

/** The contents of `path` inside `root`, every symlink on the way resolved inside it. @throws RequestError EPOSIX. */
export function readFileInRoot(root: string, path: string): Buffer {
  const r = resolveInRoot(root, path, { followLast: true });
  try {
    return readFileSync(r.at);
  } catch (err) {
    throw callError(err, path);
  } finally {
    r.close();
  }
}
