import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { DATA_CHUNK } from '../protocol/constants.ts';
import { FrameWriter, type DataSource } from './writer.ts';

/** A transport that records what is written, as text, and completes every write at once. */
function recordingTransport(onWrite: (text: string) => void = () => {}): { transport: Duplex; written: string[] } {
  const written: string[] = [];
  const transport = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      onWrite(chunk.toString());
      callback();
    },
  });
  return { transport, written };
}

/** A stream with `frames` DATA frames to send, each written as "<name><n>". */
class FakeSource implements DataSource {
  readonly name: string;
  remaining: number;
  sent = 0;
  maxAsked = 0;
  constructor(name: string, frames: number) {
    this.name = name;
    this.remaining = frames;
  }
  get sendable(): boolean {
    return this.remaining > 0;
  }
  pullFrame(max: number): Buffer[] | undefined {
    if (!this.sendable) return undefined;
    this.maxAsked = Math.max(this.maxAsked, max);
    this.remaining--;
    return [Buffer.from(`${this.name}${++this.sent}`)];
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('control frames go before any DATA queued in the same turn', async () => {
  const { transport, written } = recordingTransport();
  const writer = new FrameWriter(transport);
  const bulk = new FakeSource('d', 3);
  writer.wake(bulk);
  writer.control(Buffer.from('ping'));
  writer.control(Buffer.from('update'));
  for (let i = 0; i < 5; i++) await turn();
  assert.deepEqual(written, ['ping', 'update', 'd1', 'd2', 'd3']);
  assert.equal(bulk.maxAsked, DATA_CHUNK, 'a stream is asked for at most one DATA_CHUNK per turn');
});

test('DATA is taken round-robin, one frame per stream per turn', async () => {
  const { transport, written } = recordingTransport();
  const writer = new FrameWriter(transport);
  for (const [name, frames] of [['a', 3], ['b', 1], ['c', 2]] as const) writer.wake(new FakeSource(name, frames));
  for (let i = 0; i < 5; i++) await turn();
  assert.deepEqual(written, ['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
});

test('a forgotten stream is not asked again', async () => {
  const { transport, written } = recordingTransport();
  const writer = new FrameWriter(transport);
  const gone = new FakeSource('x', 5);
  writer.wake(gone);
  writer.forget(gone);
  writer.control(Buffer.from('reset'));
  for (let i = 0; i < 3; i++) await turn();
  assert.deepEqual(written, ['reset']);
});

test('a peer that answers within the same turn cannot starve the event loop', async () => {
  // Over an in-memory pair the peer decodes synchronously and answers in a microtask. Each answer
  // wakes the writer again; if every wake flushed in a microtask, timers and I/O would never run.
  let writer!: FrameWriter;
  let answers = 0;
  const { transport } = recordingTransport(() => {
    if (answers < 1000) queueMicrotask(() => writer.control(Buffer.from(`answer${++answers}`)));
  });
  writer = new FrameWriter(transport);
  let answersWhenTheLoopTurned = -1;
  setImmediate(() => { answersWhenTheLoopTurned = answers; });
  writer.control(Buffer.from('first'));
  while (answers < 1000) await turn();
  assert.ok(answersWhenTheLoopTurned >= 0 && answersWhenTheLoopTurned < 500,
    `the event loop turned after ${answersWhenTheLoopTurned} answers`);
});

test('after flushAndEnd nothing more is written', async () => {
  const { transport, written } = recordingTransport();
  const writer = new FrameWriter(transport);
  writer.control(Buffer.from('goaway'));
  writer.flushAndEnd();
  writer.control(Buffer.from('late'));
  writer.wake(new FakeSource('d', 1));
  for (let i = 0; i < 3; i++) await turn();
  assert.deepEqual(written, ['goaway']);
  assert.equal(transport.writableEnded, true);
});
