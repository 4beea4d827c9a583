/**
 * The layer's hook surface against what the test programs really import. For python3, node,
 * curl, psql, getent, cat and ls (and the non-glibc libraries they load, where libcurl and libpq
 * do the real work), every file, DNS, socket and process entry point they import is either
 * hooked by the layer or listed below as a decision with its reason. A new import that is
 * neither fails the test, so a gap is a decision and not an accident.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { buildLayer } from '../support/layer-build.ts';

/** The entry points that matter: paths and fds (files), name lookups, sockets, processes. */
const relevant = `
open open64 openat openat64 __open_2 __open64_2 __openat_2 __openat64_2 creat creat64 fopen fopen64 freopen freopen64
fdopen fclose stat stat64 lstat lstat64 fstat fstat64 fstatat fstatat64 __xstat __xstat64 __lxstat __lxstat64 __fxstat
__fxstat64 __fxstatat __fxstatat64 statx statfs statfs64 fstatfs fstatfs64 statvfs statvfs64 fstatvfs fstatvfs64
access faccessat euidaccess eaccess readlink readlinkat __readlink_chk __readlinkat_chk realpath __realpath_chk
canonicalize_file_name opendir fdopendir readdir readdir64 readdir_r readdir64_r closedir dirfd rewinddir telldir
seekdir scandir scandir64 scandirat scandirat64 glob glob64 nftw nftw64 ftw ftw64 fts_open fts_open64 chdir fchdir
getcwd __getcwd_chk mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat chmod
fchmodat lchmod chown fchownat lchown truncate truncate64 utime utimes utimensat futimens futimes lutimes mkstemp
mkstemp64 mkostemp mkostemp64 mkdtemp tmpfile tmpfile64 mkfifo mknod close close_range closefrom dup dup2 dup3 fcntl
fcntl64 syscall
getaddrinfo freeaddrinfo gethostbyname gethostbyname2 gethostbyname_r gethostbyname2_r gethostbyaddr gethostbyaddr_r
getnameinfo gethostent getaddrinfo_a res_query res_search res_nquery res_nsearch __res_query __res_search
__res_nquery __res_nsearch res_ninit __res_ninit res_init __res_init dn_expand __dn_expand
socket socketpair connect bind listen accept accept4 getpeername getsockname sendto sendmsg sendmmsg recvfrom recvmsg
recvmmsg send recv shutdown setsockopt getsockopt getifaddrs gethostname
fork vfork _Fork clone clone3 execve execv execvp execvpe execl execlp execle fexecve execveat posix_spawn posix_spawnp
system popen pclose daemon
`.split(/\s+/).filter(Boolean);

const writesLocal = 'writes stay on the user\'s machine (mirrord\'s read mode): the call is libc\'s, on local paths';
const cwdLocal = 'the working directory is the user\'s: relative paths are local, so there is nothing to redirect';

/** Imported but not hooked, on purpose. */
const decided: Record<string, string> = {
  fdopen: 'wraps an fd the program already has; a memfd of a remote file reads the same through it',
  statfs: 'file system statistics are the user\'s machine\'s (a remote path answers ENOENT there); nothing reads a Secret through statfs',
  statfs64: 'as statfs',
  fstatfs64: 'of a memfd it reports tmpfs, which is what a remote file is held in',
  statvfs: 'as statfs',
  statvfs64: 'as statfs',
  fstatvfs64: 'as fstatfs64',
  glob: 'glibc walks directories with internal calls past the hooks: a pattern over a remote directory matches nothing (not used on remote paths by the test programs)',
  fts_open: 'as glob: fts opens directories inside libc',
  chdir: cwdLocal,
  fchdir: cwdLocal,
  getcwd: cwdLocal,
  mkdir: writesLocal, mkdirat: writesLocal, rmdir: writesLocal, unlink: writesLocal, unlinkat: writesLocal,
  rename: writesLocal, renameat: writesLocal, link: writesLocal, linkat: writesLocal, symlink: writesLocal,
  symlinkat: writesLocal, chmod: writesLocal, fchmodat: writesLocal, chown: writesLocal, fchownat: writesLocal,
  lchown: writesLocal, truncate: writesLocal, truncate64: writesLocal, utime: writesLocal, utimes: writesLocal,
  utimensat: writesLocal, futimens: writesLocal, mkstemp: writesLocal, mkstemp64: writesLocal, mkostemp: writesLocal,
  mkdtemp: writesLocal, tmpfile64: writesLocal, mkfifo: writesLocal, mknod: writesLocal,
  gethostent: 'enumerates the user\'s /etc/hosts; the pod\'s /etc/hosts is a remote file for programs that read it',
  res_query: 'hand-written resolvers send UDP to the nameserver of the remote /etc/resolv.conf, which leaves from the pod through the UDP path (sendto/connect)',
  res_nsearch: 'as res_query',
  __res_ninit: 'reads /etc/resolv.conf inside libresolv past the hooks; the queries themselves take the UDP path',
  dn_expand: 'parses a DNS message in memory: no I/O',
  socket: 'nothing to decide at creation: connect/sendto decide per destination',
  socketpair: 'AF_UNIX: always local',
  send: 'a connected socket\'s bytes go through the relay it is really connected to: no mapping needed',
  recv: 'as send',
  shutdown: 'acts on the real connection to the relay, which forwards the half-close',
  setsockopt: 'options apply to the socket toward the relay; none change where it goes',
  getsockopt: 'SO_ERROR after a redirected connect is the relay connection\'s (0): the pod\'s result was already returned by connect',
  getifaddrs: 'interfaces are the user\'s machine\'s (mirrord only hides IPv6 ones on request)',
  gethostname: 'the user\'s host name; the pod\'s HOSTNAME comes with its environment',
  fork: 'pthread_atfork handlers (registered by the constructor) lock the link around fork and reconnect in the child, for every fork glibc runs',
  pclose: 'waits for the child popen started; popen is hooked to restore the environment',
};

/** The ELF a command name stands for (python3 and psql are wrappers or symlinks on Debian). */
function elf(candidates: string[]): string {
  for (const c of candidates) if (existsSync(c)) return realpathSync(c);
  throw new Error(`none of ${candidates.join(', ')} exists: .ci/run installs them`);
}

const programs: Record<string, string> = {
  python3: elf(['/usr/bin/python3']),
  node: process.execPath,
  curl: elf(['/usr/bin/curl']),
  psql: elf(['/usr/lib/postgresql/17/bin/psql', '/usr/lib/postgresql/16/bin/psql', '/usr/lib/postgresql/15/bin/psql']),
  getent: elf(['/usr/bin/getent']),
  cat: elf(['/usr/bin/cat', '/bin/cat']),
  ls: elf(['/usr/bin/ls', '/bin/ls']),
};

/** glibc's own libraries call each other inside glibc; only what programs and their other libraries import counts. */
const glibc = /\/(libc|libm|libdl|libpthread|librt|libresolv|libanl|ld-linux[^/]*)\.so/;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function imports(file: string): string[] {
  return sh('nm', ['-D', '--undefined-only', file]).split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '')
    .filter(Boolean).map((s) => s.replace(/@.*/, ''));
}

function libraries(program: string): string[] {
  return sh('ldd', [program]).split('\n').map((l) => l.match(/=>\s+(\/\S+)/)?.[1]).filter((p): p is string => !!p && !glibc.test(p));
}

test('every relevant entry point the test programs import is hooked or decided', () => {
  const layer = buildLayer();
  const hooked = new Set(sh('nm', ['-D', '--defined-only', layer]).split('\n').map((l) => l.trim().split(/\s+/)[2]).filter(Boolean));
  const importers = new Map<string, Set<string>>();
  for (const [name, path] of Object.entries(programs)) {
    for (const file of [path, ...libraries(path)]) {
      for (const sym of imports(file)) {
        if (!relevant.includes(sym)) continue;
        if (!importers.has(sym)) importers.set(sym, new Set());
        importers.get(sym)!.add(file === path ? name : `${name}:${file.split('/').pop()}`);
      }
    }
  }
  const undecided = [...importers.keys()].filter((s) => !hooked.has(s) && !(s in decided)).sort();
  assert.deepEqual(undecided.map((s) => `${s} (imported by ${[...importers.get(s)!].join(', ')})`), [],
    'imported, not hooked, and not decided: hook them in layer/src/hooks_*.c or add a reason to `decided`');
  // A decision about something the layer now hooks is stale.
  const stale = Object.keys(decided).filter((s) => hooked.has(s));
  assert.deepEqual(stale, [], 'hooked now: remove from `decided`');
  // The import lists were really read: python3 and node import the calls the issue names.
  for (const sym of ['stat64', 'open64', 'readdir64', 'gethostbyname_r', 'posix_spawn', 'syscall']) assert.ok(importers.get(sym)?.has('python3'), `python3 imports ${sym}`);
  for (const sym of ['open', 'scandir64', 'syscall', 'execvp']) assert.ok(importers.get(sym)?.has('node'), `node imports ${sym}`);
});

test('the layer exports its hooks and nothing else', () => {
  const layer = buildLayer();
  const exported = sh('nm', ['-D', '--defined-only', layer]).split('\n').map((l) => l.trim().split(/\s+/)[2]).filter(Boolean);
  const notEntryPoints = exported.filter((s) => !relevant.includes(s) && !['rewinddir', 'telldir', 'seekdir'].includes(s));
  assert.deepEqual(notEntryPoints, [], 'only hooks are exported (the layer\'s own functions are hidden)');
  assert.ok(exported.length > 90, `${exported.length} hooks`);
});
