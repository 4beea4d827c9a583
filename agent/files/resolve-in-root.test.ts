/**
 * In-root resolution against real symlink trees on disk: a Secret volume as the kubelet's
 * AtomicWriter writes it, absolute links that must stay in the root, `..` escapes, loops and the
 * 40-link limit, ENOTDIR, trailing slashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestError } from '../../src/protocol/request-errors.ts';
import { resolveInRoot, RootOpenError } from './resolve-in-root.ts';
import { containerIdOf, findContainerPid } from '../target-process.ts';

/**
 * A scratch tree: `<base>/root` is the container's root, `<base>/outside` is the agent's side that
 * no path may reach. Removed after the test.
 */
function tree(t: { after(fn: () => void): void }): { base: string; root: string } {
  const base = mkdtempSync(join(tmpdir(), 'kmrd-in-root-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  mkdirSync(join(base, 'outside'), { recursive: true });
  writeFileSync(join(base, 'outside', 'secret'), 'the agent\'s own file\n');
  // The kubelet's AtomicWriter layout (pkg/volume/util/atomic_writer.go): the data in a timestamped
  // directory, `..data` pointing at it, and each key a link through `..data`.
  const vol = join(root, 'etc', 'app');
  mkdirSync(join(vol, '..2026_12_02_04_00_00.123456789'), { recursive: true });
  writeFileSync(join(vol, '..2026_12_02_04_00_00.123456789', 'api-key'), 'abcdefghijklmnopqrst');
  symlinkSync('..2026_12_02_04_00_00.123456789', join(vol, '..data'));
  symlinkSync('..data/api-key', join(vol, 'api-key'));
  writeFileSync(join(root, 'etc', 'hostname'), 'pod\n');
  return { base, root };
}

/** The contents of what `path` resolves to, with the last component followed. */
function read(root: string, path: string): string {
  const r = resolveInRoot(root, path, { followLast: true });
  try {
    return readFileSync(r.at, 'utf8');
  } finally {
    r.close();
  }
}

function fails(fn: () => unknown, name: string, path: RegExp = /./): void {
  assert.throws(fn, (err: unknown) => err instanceof RequestError && err.code === 'EPOSIX' && err.message.startsWith(`${name}: `) && path.test(err.message),
    `expected EPOSIX ${name}`);
}

test('a Secret volume\'s key resolves through ..data to the timestamped directory', (t) => {
  const { root } = tree(t);
  assert.equal(read(root, '/etc/app/api-key'), 'abcdefghijklmnopqrst');
  assert.equal(read(root, '/etc/app/..data/api-key'), 'abcdefghijklmnopqrst');
  assert.equal(read(root, '/etc//app/./api-key'), 'abcdefghijklmnopqrst');
  const link = resolveInRoot(root, '/etc/app/api-key', { followLast: false });
  try {
    assert.equal(link.name, 'api-key', 'lstat sees the key\'s own link');
  } finally {
    link.close();
  }
});

test('absolute symlinks restart at the container\'s root, never at the agent\'s', (t) => {
  const { base, root } = tree(t);
  symlinkSync('/etc/app/api-key', join(root, 'abs'));
  assert.equal(read(root, '/abs'), 'abcdefghijklmnopqrst');
  // A link to the agent's own file by its absolute host path lands inside the root, where it does not exist.
  symlinkSync(join(base, 'outside', 'secret'), join(root, 'to-host'));
  fails(() => read(root, '/to-host'), 'ENOENT');
  // The same through a directory link: /etcdir -> /etc then ../hostname
  symlinkSync('/etc', join(root, 'etcdir'));
  assert.equal(read(root, '/etcdir/hostname'), 'pod\n');
});

test('.. never climbs above the container\'s root', (t) => {
  const { root } = tree(t);
  assert.equal(read(root, '/../../../etc/hostname'), 'pod\n');
  symlinkSync('../../../../outside/secret', join(root, 'etc', 'up'));
  fails(() => read(root, '/etc/up'), 'ENOENT');
  symlinkSync('../..', join(root, 'etc', 'app', 'top'));
  assert.equal(read(root, '/etc/app/top/../etc/hostname'), 'pod\n');
  fails(() => read(root, '/etc/app/top/../outside/secret'), 'ENOENT');
  // `..` after a directory link goes to the link target's parent, as the kernel's walk does.
  symlinkSync('/etc/app/..data', join(root, 'data'));
  assert.equal(read(root, '/data/../api-key'), 'abcdefghijklmnopqrst');
  const r = resolveInRoot(root, '/..', { followLast: true });
  try {
    assert.equal(r.name, '.', 'the root itself');
    assert.equal(r.at.endsWith('/.'), true);
  } finally {
    r.close();
  }
});

test('symlink loops and chains of more than 40 are ELOOP; 40 is fine', (t) => {
  const { root } = tree(t);
  symlinkSync('b', join(root, 'a'));
  symlinkSync('a', join(root, 'b'));
  fails(() => read(root, '/a'), 'ELOOP', /\/a: too many levels of symbolic links/);
  symlinkSync('/self', join(root, 'self'));
  fails(() => read(root, '/self/x'), 'ELOOP');
  writeFileSync(join(root, 'end'), 'end');
  let previous = 'end';
  for (let i = 1; i <= 41; i++) {
    symlinkSync(previous, join(root, `l${i}`));
    previous = `l${i}`;
  }
  assert.equal(read(root, '/l40'), 'end');
  fails(() => read(root, '/l41'), 'ELOOP');
  // Not following the last link needs no hop at all.
  resolveInRoot(root, '/a', { followLast: false }).close();
});

test('a file on the way is ENOTDIR, a missing directory ENOENT; a missing last component is left to the caller', (t) => {
  const { root } = tree(t);
  fails(() => read(root, '/etc/hostname/x'), 'ENOTDIR');
  fails(() => read(root, '/etc/hostname/'), 'ENOTDIR');
  fails(() => read(root, '/nope/x'), 'ENOENT', /\/nope\/x: no such file or directory/);
  assert.throws(() => read(root, '/etc/missing'), { code: 'ENOENT' }, 'the caller\'s own call reports it');
  const r = resolveInRoot(root, '/etc/missing', { followLast: true });
  r.close();
  assert.equal(r.name, 'missing');
  // A trailing slash follows a final link to a directory.
  symlinkSync('/etc/app', join(root, 'applink'));
  const d = resolveInRoot(root, '/applink/', { followLast: false });
  try {
    assert.equal(d.name, 'app');
  } finally {
    d.close();
  }
});

test('a component longer than 255 bytes is ENAMETOOLONG; an unopenable root is RootOpenError', (t) => {
  const { base, root } = tree(t);
  fails(() => read(root, `/${'x'.repeat(256)}/y`), 'ENAMETOOLONG');
  assert.throws(() => resolveInRoot(join(base, 'no-root'), '/etc', { followLast: true }), (err: unknown) => err instanceof RootOpenError && err.code === 'ENOENT');
});

test('the target\'s pid is found by its container id in /proc/<pid>/cgroup, the lowest pid first', (t) => {
  const { base } = tree(t);
  const proc = join(base, 'proc');
  const cgroup = (pid: number, text: string) => { mkdirSync(join(proc, String(pid)), { recursive: true }); writeFileSync(join(proc, String(pid), 'cgroup'), text); };
  cgroup(7, '0::/../cri-containerd-abc123.scope\n');
  cgroup(3, '0::/kubepods/besteffort/podx/abc123\n');
  cgroup(2, '0::/kubepods/besteffort/podx/other\n');
  mkdirSync(join(proc, 'self'));
  assert.equal(findContainerPid(containerIdOf('containerd://abc123'), proc, 1), 3);
  assert.equal(findContainerPid('abc123', proc, 3), 7, 'never the agent itself');
  assert.equal(findContainerPid('nothing', proc, 1), undefined);
});
