/**
 * The target's environment and files over a real session, with a real process as the target: a
 * child with an environment of its own, whose /proc/<pid>/environ and /proc/<pid>/root the agent
 * side reads, as the ephemeral agent reads its target's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILE_STREAM_DESTINATION } from '../../src/protocol/file-requests.ts';
import { MAX_FRAME_PAYLOAD } from '../../src/protocol/constants.ts';
import { posixErrorName, RequestError } from '../../src/protocol/request-errors.ts';
import { Requests } from '../../src/protocol/requests.ts';
import { route } from '../../src/session/requests.ts';
import type { Session } from '../../src/session/session.ts';
import type { MuxStream } from '../../src/session/stream.ts';
import { connectPair, memoryTransport, readAll } from '../../test/support/session-harness.ts';
import { targetEnvironment } from '../env.ts';
import { silentLog } from '../log.ts';
import { TargetProcess } from '../target-process.ts';
import { TargetFiles } from './target-files.ts';

/** A sleeping child with exactly `env`, killed after the test. */
async function targetChild(t: { after(fn: () => void): void }, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn('/bin/sleep', ['60'], { env, stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await once(child, 'spawn');
  return child;
}

/** A session pair whose agent side serves the target requests for `target`; the client collects file streams. */
async function serve(t: { after(fn: () => void): void }, target: TargetProcess): Promise<{ client: Session; fileStream(id: number): MuxStream }> {
  const pair = await connectPair(memoryTransport, false);
  t.after(() => pair.destroy());
  const files = new TargetFiles(target, silentLog);
  pair.agent.serveRequests([
    route(Requests.targetEnv, () => targetEnvironment(target)),
    route(Requests.fileStat, (b) => files.stat(b)),
    route(Requests.fileRead, (b) => files.read(pair.agent, b)),
    route(Requests.dirList, (b) => files.list(b)),
    route(Requests.readLink, (b) => files.readLink(b)),
  ]);
  const streams = new Map<number, MuxStream>();
  pair.client.on('stream', (s: MuxStream) => {
    assert.deepEqual(s.open.destination, FILE_STREAM_DESTINATION);
    s.on('error', () => {});
    s.accept();
    streams.set(s.id, s);
  });
  return { client: pair.client, fileStream: (id) => streams.get(id)! };
}

function scratch(t: { after(fn: () => void): void }, base = tmpdir()): string {
  const dir = mkdtempSync(join(base, 'kmrd-target-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function posixFailure(p: Promise<unknown>, name: string): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof RequestError, `expected EPOSIX ${name}, got ${String(err)}`);
  assert.equal(posixErrorName(err), name, err.message);
  return err.message;
}

test('targetEnv is the target process\'s own environment, not the agent\'s', async (t) => {
  const child = await targetChild(t, { GREETING: 'hello from the pod', EMPTY: '', WITH_EQ: 'a=b' });
  const { client } = await serve(t, new TargetProcess({ pid: child.pid }));
  const { env } = await client.call(Requests.targetEnv, {});
  assert.deepEqual(env, { GREETING: 'hello from the pod', EMPTY: '', WITH_EQ: 'a=b' });
});

test('without a target, targetEnv and the file requests are ENOTFOUND saying so', async (t) => {
  const { client } = await serve(t, new TargetProcess({}));
  await assert.rejects(client.call(Requests.targetEnv, {}), { code: 'ENOTFOUND', message: /no target/ });
  await assert.rejects(client.call(Requests.fileStat, { path: '/', follow: true }), { code: 'ENOTFOUND' });
});

test('fileRead streams exactly the file\'s bytes through its ..data link; stat, lstat, readLink, dirList agree', async (t) => {
  const child = await targetChild(t, {});
  const { client, fileStream } = await serve(t, new TargetProcess({ pid: child.pid }));
  const dir = scratch(t);
  const data = join(dir, '..2026_12_02_04_00_00.1');
  mkdirSync(data);
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  writeFileSync(join(data, 'blob'), big);
  writeFileSync(join(data, 'api-key'), 'abcdefghijklmnopqrst');
  symlinkSync('..2026_12_02_04_00_00.1', join(dir, '..data'));
  symlinkSync('..data/api-key', join(dir, 'api-key'));
  symlinkSync('..data/blob', join(dir, 'blob'));

  const answer = await client.call(Requests.fileRead, { path: `${dir}/blob`, maxBytes: 64 * 1024 * 1024 });
  assert.equal(answer.stat.size, big.length);
  const got = await readAll(fileStream(answer.stream));
  assert.ok(got.equals(big), `the stream carried ${got.length} bytes, the file has ${big.length}`);

  const followed = await client.call(Requests.fileStat, { path: `${dir}/api-key`, follow: true });
  assert.equal(followed.size, 20);
  assert.equal(followed.mode & 0o170000, 0o100000, 'a regular file');
  const link = await client.call(Requests.fileStat, { path: `${dir}/api-key`, follow: false });
  assert.equal(link.mode & 0o170000, 0o120000, 'lstat sees the link');
  assert.deepEqual(await client.call(Requests.readLink, { path: `${dir}/api-key` }), { target: '..data/api-key' });
  const listing = await client.call(Requests.dirList, { path: dir });
  assert.deepEqual(listing.entries.map((e) => [e.name, e.type]), [['..2026_12_02_04_00_00.1', 'dir'], ['..data', 'link'], ['api-key', 'link'], ['blob', 'link']]);
  assert.equal(listing.next, null);
  assert.ok(listing.entries.every((e) => e.ino !== '0'));
});

test('file errors carry the POSIX name: ENOENT, EFBIG over maxBytes, EISDIR, EINVAL for a FIFO (never blocks), ENOTDIR', async (t) => {
  const child = await targetChild(t, {});
  const { client } = await serve(t, new TargetProcess({ pid: child.pid }));
  const dir = scratch(t);
  writeFileSync(join(dir, 'five'), '12345');
  assert.match(await posixFailure(client.call(Requests.fileStat, { path: `${dir}/missing`, follow: true }), 'ENOENT'), /missing: no such file or directory/);
  assert.match(await posixFailure(client.call(Requests.fileRead, { path: `${dir}/five`, maxBytes: 4 }), 'EFBIG'), /5 bytes, more than the limit of 4/);
  await posixFailure(client.call(Requests.fileRead, { path: dir, maxBytes: 100 }), 'EISDIR');
  await posixFailure(client.call(Requests.dirList, { path: `${dir}/five` }), 'ENOTDIR');
  await posixFailure(client.call(Requests.readLink, { path: `${dir}/five` }), 'EINVAL');
  const fifo = join(dir, 'fifo');
  const [code] = await once(spawn('mkfifo', [fifo]), 'exit');
  assert.equal(code, 0, 'mkfifo');
  await posixFailure(client.call(Requests.fileRead, { path: fifo, maxBytes: 100 }), 'EINVAL');
  const empty = await client.call(Requests.fileRead, { path: `${dir}/five`, maxBytes: 5 });
  assert.equal(empty.stat.size, 5);
});

test('a directory of 100 000 entries lists completely in pages that each fit one frame', async (t) => {
  const child = await targetChild(t, {});
  const { client } = await serve(t, new TargetProcess({ pid: child.pid }));
  // tmpfs when there is one: 100 000 creates on a disk filesystem take seconds of the test.
  const dir = scratch(t, existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const count = 100_000;
  for (let i = 0; i < count; i++) closeSync(openSync(join(dir, `entry-with-a-longish-name-${String(i).padStart(6, '0')}`), 'w'));
  const names = new Set<string>();
  let offset: number | null = 0;
  let pages = 0;
  while (offset !== null) {
    const page: { entries: Array<{ name: string }>; next: number | null } = await client.call(Requests.dirList, { path: dir, offset });
    assert.ok(Buffer.byteLength(JSON.stringify(page)) < MAX_FRAME_PAYLOAD);
    for (const e of page.entries) names.add(e.name);
    pages++;
    offset = page.next;
  }
  assert.equal(names.size, count);
  assert.ok(pages > 1, `expected several pages, got ${pages}`);
});
