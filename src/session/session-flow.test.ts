/**
 * Flow control and fairness on a live session, over every transport and role. These tests assert
 * bounds and order, never timing: the machine is shared and timings are the benchmark's job.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { INITIAL_WINDOW } from '../protocol/constants.ts';
import type { Session } from './session.ts';
import type { MuxStream } from './stream.ts';
import { SESSION_SEND_BUDGET } from './send-budget.ts';
import { connectPair, readAll, variants, writeAll, type TransportFactory } from '../../test/support/session-harness.ts';

const BULK_PORT = 9000;
const ECHO_PORT = 7;
const STALLED_PORT = 9999;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Lets every pending I/O callback and timer run a few times over. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
}

/**
 * Acceptor behaviour by destination port: echo streams echo, bulk streams are drained and counted,
 * stalled streams are accepted and never read.
 */
function serve(acceptor: Session): { stalled: MuxStream[]; bulkBytes: Map<number, number> } {
  const stalled: MuxStream[] = [];
  const bulkBytes = new Map<number, number>();
  acceptor.on('stream', (stream: MuxStream) => {
    stream.on('error', () => {});
    stream.accept();
    const port = stream.open.destination.port;
    if (port === ECHO_PORT) stream.pipe(stream);
    else if (port === STALLED_PORT) stalled.push(stream);
    else {
      bulkBytes.set(stream.id, 0);
      stream.on('data', (chunk: Buffer) => bulkBytes.set(stream.id, (bulkBytes.get(stream.id) ?? 0) + chunk.length));
    }
  });
  return { stalled, bulkBytes };
}

/** Writes until `stop()` says so, honouring backpressure. Returns the bytes the stream accepted. */
async function writeUntil(stream: MuxStream, stop: () => boolean): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  let written = 0;
  while (!stop() && !stream.destroyed) {
    written += chunk.length;
    if (!stream.write(chunk)) await drainOrClose(stream);
  }
  return written;
}

function drainOrClose(stream: MuxStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** Reads newline-terminated lines from a stream, one at a time. */
function lineReader(stream: MuxStream): () => Promise<string> {
  let buffered = '';
  let wake: (() => void) | undefined;
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    wake?.();
  });
  return async () => {
    while (!buffered.includes('\n')) await new Promise<void>((resolve) => { wake = resolve; });
    const end = buffered.indexOf('\n') + 1;
    const line = buffered.slice(0, end);
    buffered = buffered.slice(end);
    return line;
  };
}

function flowSuite(transport: TransportFactory, swapped: boolean): void {
  test('a stalled reader holds at most its window while another stream completes', async () => {
    const pair = await connectPair(transport, swapped);
    try {
      const { stalled } = serve(pair.acceptor);
      const slow = pair.opener.openStream({ host: 'slow.example', port: STALLED_PORT });
      slow.on('error', () => {});
      let done = false;
      const slowWriting = writeUntil(slow, () => done);

      // Another stream on the same session flows to completion meanwhile.
      const data = randomBytes(4 * 1024 * 1024);
      const fast = pair.opener.openStream({ host: 'fast.example', port: ECHO_PORT });
      const [echoed] = await Promise.all([readAll(fast), writeAll(fast, data)]);
      assert.equal(sha256(echoed), sha256(data));

      await settle();
      assert.equal(stalled.length, 1);
      const receiver = stalled[0];
      // Nothing was read, so the window never grew: the receiver holds at most the initial window.
      assert.equal(receiver.receiveWindow, INITIAL_WINDOW);
      assert.ok(receiver.readableLength > 0, 'the stalled stream did receive its first window');
      assert.ok(receiver.readableLength <= INITIAL_WINDOW, `receiver buffers ${receiver.readableLength} bytes`);
      assert.equal(slow.sendCredit, INITIAL_WINDOW - receiver.readableLength, 'the sender used exactly the credit it had');
      // The sender stops accepting writes once its queue is full: its memory is bounded too.
      assert.ok(slow.queuedBytes <= 512 * 1024, `sender queues ${slow.queuedBytes} bytes`);
      assert.ok(slow.writableLength <= 512 * 1024);

      // Reading again lets the stalled stream finish, with every byte in order.
      done = true;
      const received = readAll(receiver);
      const sent = await slowWriting;
      slow.end();
      const all = await received;
      assert.equal(all.length, sent);
      assert.ok(all.every((b) => b === 0x62));
    } finally {
      pair.destroy();
    }
  });

  test('64 streams written toward stalled readers: the sender queues about its send budget, and an echo still answers', async () => {
    const pair = await connectPair(transport, swapped);
    let stop = false;
    try {
      serve(pair.acceptor);
      const CHUNK = 64 * 1024;
      const streams = Array.from({ length: 64 }, (_, i) => {
        const stream = pair.opener.openStream({ host: `slow-${i}.example`, port: STALLED_PORT });
        stream.on('error', () => {});
        return stream;
      });
      const writing = streams.map((stream) => writeUntil(stream, () => stop));
      await settle();
      await settle();
      const queued = streams.reduce((sum, stream) => sum + stream.queuedBytes, 0);
      assert.equal(pair.opener.sendBudget.queued, queued, 'the budget counts what the streams queue');
      // Each stream's own bound (256 KiB) would allow 16 MiB; the session's holds them near 4 MiB,
      // plus the one chunk each that was handed over before it held the writer.
      assert.ok(queued >= SESSION_SEND_BUDGET, `the writers did fill the budget (${queued} bytes queued)`);
      assert.ok(queued <= SESSION_SEND_BUDGET + streams.length * CHUNK, `the sender queues ${queued} bytes`);

      const echo = pair.opener.openStream({ host: 'shell.example', port: ECHO_PORT });
      echo.on('error', () => {});
      const nextLine = lineReader(echo);
      echo.write('still there?\n');
      assert.equal(await nextLine(), 'still there?\n');
      echo.end();
      stop = true;
      for (const stream of streams) stream.destroy();
      await Promise.all(writing);
      assert.equal(pair.opener.sendBudget.queued, 0, 'reset streams gave their bytes back');
    } finally {
      stop = true;
      pair.destroy();
    }
  });

  test('with 4 bulk streams saturating, an interactive echo stream completes while they all progress', async () => {
    const pair = await connectPair(transport, swapped);
    let stop = false;
    try {
      const { bulkBytes } = serve(pair.acceptor);
      const bulk = Array.from({ length: 4 }, (_, i) => {
        const stream = pair.opener.openStream({ host: 'bulk.example', port: BULK_PORT + i });
        stream.on('error', () => {});
        return writeUntil(stream, () => stop).then(() => stream.destroy());
      });
      // Let the bulk streams get going before the interactive stream starts.
      while (bulkBytes.size < 4 || [...bulkBytes.values()].some((n) => n < 1024 * 1024)) await settle();
      const atStart = new Map(bulkBytes);

      const echo = pair.opener.openStream({ host: 'shell.example', port: ECHO_PORT });
      echo.on('error', () => {});
      const nextLine = lineReader(echo);
      const replies: string[] = [];
      for (let i = 0; i < 30; i++) {
        echo.write(`keystroke ${i}\n`);
        replies.push(await nextLine());
      }
      echo.end();
      const bulkStillRunning = [...bulkBytes.entries()].map(([id, n]) => n > (atStart.get(id) ?? 0));
      stop = true;
      await Promise.all(bulk);

      assert.deepEqual(replies, Array.from({ length: 30 }, (_, i) => `keystroke ${i}\n`), 'every reply, in order');
      assert.deepEqual(bulkStillRunning, [true, true, true, true], 'each bulk stream kept flowing during the echo');
    } finally {
      stop = true;
      pair.destroy();
    }
  });

  // Browser and shell traffic is many small writes. 300,000 writes of 1 byte go past the send
  // buffer (256 KiB), so the held write is released too. The send queue takes each chunk in O(1);
  // with a shift() per chunk and a scan of the queue per frame it was quadratic (5.5 s here for
  // this test, against 0.2-0.5 s). The timeout only guards against a hang.
  test('300,000 one-byte writes arrive whole and in order', { timeout: 120_000 }, async () => {
    const pair = await connectPair(transport, swapped);
    try {
      const received: Buffer[] = [];
      pair.acceptor.on('stream', (stream: MuxStream) => {
        stream.accept();
        stream.on('data', (chunk: Buffer) => received.push(chunk));
        stream.on('end', () => stream.end());
      });
      const stream = pair.opener.openStream({ host: 'small.example', port: BULK_PORT });
      const sent = randomBytes(300_000);
      for (let i = 0; i < sent.length; i++) {
        if (!stream.write(sent.subarray(i, i + 1))) await drainOrClose(stream);
      }
      stream.end();
      stream.resume();
      await new Promise<void>((resolve, reject) => { stream.once('end', resolve); stream.once('error', reject); });
      assert.equal(sha256(Buffer.concat(received)), sha256(sent));
    } finally {
      pair.destroy();
    }
  });
}

for (const variant of variants) {
  describe(`flow control over ${variant.name}`, () => flowSuite(variant.transport, variant.swapped));
}
