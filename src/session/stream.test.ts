/**
 * MuxStream's send queue on its own, with a host that stands in for the session: what the queue
 * keeps alive once its chunks have been handed to the writer, and how the session's send budget
 * holds writers back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Transport } from '../protocol/constants.ts';
import { ReceiveWindow, WindowBudget } from './flow-control.ts';
import { MuxStream } from './stream.ts';
import type { StreamHost } from './stream-host.ts';
import { ADMISSION_MS, SendBudget, STALL_MS } from './send-budget.ts';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const host: StreamHost = {
  sendBudget: new SendBudget(),
  wake: () => {},
  dataHeader: () => Buffer.alloc(8),
  sendWindowUpdate: () => {},
  sendOpenOk: () => {},
  sendReset: () => {},
  release: () => {},
};

function openStream(on: StreamHost = host, id = 1): MuxStream {
  const window = new ReceiveWindow(new WindowBudget(), { rtt: 1, minRtt: 1 });
  const stream = new MuxStream(id, { window: 0, transport: Transport.tcp, destination: { host: '10.0.0.1', port: 80 } }, on, window);
  stream.onOpenOk({ window: 64 * 1024 * 1024 });
  return stream;
}

test('a chunk handed to the writer is not kept alive by a queue that never empties', async () => {
  const stream = openStream();
  const CHUNK = 64 * 1024;
  // A steady upload: the application always has the next chunk queued before the writer takes
  // the one in front, so the queue is never empty and never starts over.
  stream.write(Buffer.alloc(CHUNK, 1));
  let sent: WeakRef<Buffer> | undefined;
  for (let i = 0; i < 8; i++) {
    let next: Buffer | undefined = Buffer.alloc(CHUNK, 2);
    if (i === 0) sent = new WeakRef(next);
    stream.write(next);
    next = undefined;
    const frame = stream.pullFrame(CHUNK);
    assert.ok(frame, 'the stream has credit and data, so it hands over a frame');
    assert.ok(stream.queuedBytes > 0, 'the queue still holds the chunk written last');
  }
  // WeakRef targets stay alive until the current job ends.
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  // Not assert.equal: on failure it would print 64 KiB of buffer, which takes minutes.
  assert.ok(sent?.deref() === undefined, 'the queue let go of a chunk it had sent');
  stream.destroy();
});

const turn = () => new Promise((resolve) => setImmediate(resolve));

test("once the session's send budget is used up, streams hold their writers, and get them back in turn", async () => {
  const LIMIT = 256 * 1024;
  const CHUNK = 64 * 1024;
  const budget = new SendBudget(LIMIT);
  const shared: StreamHost = { ...host, sendBudget: budget };
  const streams = Array.from({ length: 8 }, (_, i) => openStream(shared, 2 * i + 1));
  const done = streams.map(() => 0);
  const order: number[] = [];
  streams.forEach((stream, i) => {
    for (let k = 0; k < 2; k++) {
      stream.write(Buffer.alloc(CHUNK), () => {
        done[i]++;
        order.push(i);
      });
    }
  });
  await turn();
  // Each stream queues the chunk it was handed; a stream over the floor then waits.
  assert.ok(budget.queued <= LIMIT + streams.length * CHUNK, `queued ${budget.queued}`);
  assert.equal(done[0], 2, 'the first stream wrote all it had while there was room');
  assert.deepEqual(done.slice(2), [0, 0, 0, 0, 0, 0], 'streams that came after the budget ran out are held');

  // An interactive write is never held: it fits under the floor.
  const shell = openStream(shared, 99);
  let typed = false;
  shell.write(Buffer.from('ls\n'), () => (typed = true));
  await turn();
  assert.ok(typed, 'a small write went through with the budget used up');

  // The writer drains the streams; every write completes, the earlier streams first.
  for (let round = 0; round < 20 && done.some((n) => n < 2); round++) {
    for (const stream of streams) stream.pullFrame(CHUNK);
    await turn();
  }
  assert.deepEqual(done, streams.map(() => 2), 'every write completed');
  const firstDone = streams.map((_, i) => order.indexOf(i));
  assert.deepEqual([...firstDone].sort((a, b) => a - b), firstDone, 'streams got their turns in the order they waited');
  assert.equal(budget.queued, 3, 'only the interactive bytes are left');
  for (const stream of [...streams, shell]) stream.destroy();
});

test('a reset stream gives its queued bytes back to the budget', async () => {
  const budget = new SendBudget(128 * 1024);
  const stream = openStream({ ...host, sendBudget: budget });
  stream.write(Buffer.alloc(96 * 1024));
  stream.write(Buffer.alloc(96 * 1024));
  await turn();
  assert.equal(budget.queued, 192 * 1024);
  stream.on('error', () => {});
  stream.destroy();
  await turn();
  assert.equal(budget.queued, 0);
});

test('admission reserves a first read per new stream, so a burst of streams waits until bytes come in', async () => {
  const budget = new SendBudget(128 * 1024);
  const shared: StreamHost = { ...host, sendBudget: budget };
  const [a, b, c] = [1, 3, 5].map((id) => openStream(shared, id));
  assert.equal(a.sendAdmission(), undefined, 'room: admitted at once');
  assert.equal(b.sendAdmission(), undefined);
  assert.ok(budget.exhausted, 'two reservations fill 128 KiB');
  let admitted = false;
  void c.sendAdmission()?.then(() => (admitted = true));
  await turn();
  assert.equal(admitted, false, 'the third waits');
  // a's first bytes arrive: its reservation gives way to the 1 KiB it really queued.
  a.write(Buffer.alloc(1024));
  a.pullFrame(1024);
  await turn();
  assert.equal(admitted, true, 'and is let in once the first stream has sent what it read');
  assert.equal(c.sendAdmission(), undefined, 'asked again, it admits nothing more');
  for (const s of [a, b, c]) s.destroy();
});

test('a reservation lapses when no bytes come', async () => {
  const budget = new SendBudget(64 * 1024);
  const shared: StreamHost = { ...host, sendBudget: budget };
  const started = performance.now();
  const quiet = openStream(shared, 1);
  assert.equal(quiet.sendAdmission(), undefined);
  assert.ok(budget.exhausted);
  const waiting = openStream(shared, 3);
  const admission = waiting.sendAdmission();
  assert.ok(admission, 'the budget is reserved, so it waits');
  await admission;
  assert.ok(performance.now() - started >= ADMISSION_MS * 0.9, 'let in when the first reservation lapsed');
  for (const s of [quiet, waiting]) s.destroy();
});

test('a stream reset while it waits for admission stops waiting at once, and reserves nothing', async () => {
  const budget = new SendBudget(128 * 1024);
  const shared: StreamHost = { ...host, sendBudget: budget };
  const [first, second, gone] = [1, 3, 5].map((id) => openStream(shared, id));
  assert.equal(first.sendAdmission(), undefined);
  assert.equal(second.sendAdmission(), undefined);
  assert.ok(budget.exhausted);
  const admission = gone.sendAdmission();
  assert.ok(admission);
  gone.destroy();
  const outcome = await Promise.race([admission.then(() => 'settled'), turn().then(() => 'pending')]);
  assert.equal(outcome, 'settled', 'the reset ends the wait, not the reservation lapsing');
  // first's bytes arrive and are sent: its reservation is gone, and second's alone is left.
  first.write(Buffer.alloc(10));
  first.pullFrame(10);
  assert.equal(budget.exhausted, false, 'the reset stream reserved nothing');
  for (const s of [first, second]) s.destroy();
});

test('with every queued byte stuck behind a peer that does not read, new streams are still let in', async () => {
  const budget = new SendBudget(64 * 1024);
  const shared: StreamHost = { ...host, sendBudget: budget };
  // Its bytes are never taken (this host has no writer): the budget stays full, and nothing moves.
  // The stall check starts with the first waiter: the held writer below.
  const started = performance.now();
  const stuck = openStream(shared, 1);
  stuck.write(Buffer.alloc(64 * 1024));
  await turn();
  assert.ok(budget.exhausted);
  const late = openStream(shared, 3);
  await late.sendAdmission();
  const waited = performance.now() - started;
  assert.ok(waited >= STALL_MS * 0.9, `it waited for the stall check (${waited.toFixed(0)} ms)`);
  for (const s of [stuck, late]) s.destroy();
});

test('a stall lets every new stream in at once, however many held writers wait before them', async () => {
  const budget = new SendBudget(64 * 1024);
  const shared: StreamHost = { ...host, sendBudget: budget };
  // Eight streams whose bytes are never taken, each held over the floor.
  const stuck = Array.from({ length: 8 }, (_, i) => openStream(shared, 2 * i + 1));
  for (const s of stuck) s.write(Buffer.alloc(32 * 1024));
  await turn();
  assert.ok(budget.exhausted);
  const started = performance.now();
  const late = Array.from({ length: 4 }, (_, i) => openStream(shared, 101 + 2 * i));
  await Promise.all(late.map((s) => s.sendAdmission()));
  const waited = performance.now() - started;
  assert.ok(waited < 10 * STALL_MS, `all four were let in after one stall check, not one per check (${waited.toFixed(0)} ms)`);
  for (const s of [...stuck, ...late]) s.destroy();
});
