import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { kernelDrops } from './udp-kernel-drops.ts';

test('kernelDrops counts what a full receive buffer lost', { skip: !existsSync('/proc/net/udp') && 'no /proc/net/udp' }, async () => {
  const receiver = dgram.createSocket({ type: 'udp4', recvBufferSize: 4096 });
  await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
  const { port } = receiver.address();
  assert.equal(kernelDrops('127.0.0.1', port), 0);
  // 200 KB sent in one turn of the event loop, before the receiver can read any of it: a 4 KiB
  // receive buffer (the kernel doubles and rounds it up, socket(7)) cannot hold them all.
  const sender = dgram.createSocket('udp4');
  const payload = Buffer.alloc(1000);
  for (let i = 0; i < 200; i++) sender.send(payload, port, '127.0.0.1');
  await sleep(200);
  const drops = kernelDrops('127.0.0.1', port);
  assert.ok(drops !== undefined && drops > 0, `the kernel dropped ${drops}`);
  assert.equal(kernelDrops('127.0.0.1', 1), undefined, 'no socket on that port');
  sender.close();
  receiver.close();
});
