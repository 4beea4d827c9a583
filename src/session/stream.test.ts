/**
 * MuxStream's send queue on its own, with a host that records what the stream asks of it: what the
 * queue keeps alive once its chunks have been handed to the writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Transport } from '../protocol/constants.ts';
import { ReceiveWindow, WindowBudget } from './flow-control.ts';
import { MuxStream } from './stream.ts';
import type { StreamHost } from './stream-host.ts';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const host: StreamHost = {
  wake: () => {},
  dataHeader: () => Buffer.alloc(8),
  sendWindowUpdate: () => {},
  sendOpenOk: () => {},
  sendReset: () => {},
  release: () => {},
};

function openStream(): MuxStream {
  const window = new ReceiveWindow(new WindowBudget(), { rtt: 1, minRtt: 1 });
  const stream = new MuxStream(1, { window: 0, transport: Transport.tcp, destination: { host: '10.0.0.1', port: 80 } }, host, window);
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
  assert.equal(sent?.deref(), undefined, 'the queue let go of a chunk it had sent');
  stream.destroy();
});
