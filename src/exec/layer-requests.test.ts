import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { AgentError } from '../errors.ts';
import type { Session } from '../session/session.ts';
import { FileStreams } from './file-streams.ts';
import * as requests from './layer-requests.ts';
import type { TcpInterceptor } from './tcp-interceptor.ts';
import { Eai } from './errno.ts';

/** A link that never gets a session back (what AgentLink.session() does after HOLD_MS). */
function noSession(delayMs: number): requests.RequestContext {
  return {
    source: { session: () => new Promise<Session>((_, reject) => setTimeout(() => reject(new AgentError('ENOSESSION', 'no agent connection within 60000 ms (reconnecting)')), delayMs)) },
    files: new FileStreams(),
    interceptor: {} as TcpInterceptor,
    maxFileBytes: 1024,
    log: () => {},
    warnOnce: () => {},
  };
}

test('with no session to be had, each call fails with the errno it would have: EIO, EAI_AGAIN, ECONNREFUSED', async () => {
  const ctx = noSession(20);
  assert.equal((await requests.stat(ctx, '/etc/x', true)).err, constants.errno.EIO);
  assert.equal((await requests.openFile(ctx, '/etc/x')).stat.err, constants.errno.EIO);
  assert.equal((await requests.readdir(ctx, '/etc')).err, constants.errno.EIO);
  assert.equal((await requests.readlink(ctx, '/etc/x')).err, constants.errno.EIO);
  assert.equal((await requests.getaddrinfo(ctx, 'ip-info', 0)).eai, Eai.again);
  assert.equal((await requests.getnameinfo(ctx, Uint8Array.from([10, 0, 0, 1]))).eai, Eai.again);
  assert.equal((await requests.connectTcp(ctx, '10.0.0.1', 80)).err, constants.errno.ECONNREFUSED);
});

test('addresses: IPv6 text and bytes both ways, ::ffff: mapped to IPv4', () => {
  assert.deepEqual([...requests.addressBytes('10.1.2.3')], [10, 1, 2, 3]);
  const v6 = requests.addressBytes('fd00::1:2');
  assert.equal(v6.length, 16);
  assert.equal(requests.addressText(v6), 'fd00::1:2');
  assert.equal(requests.addressText(requests.addressBytes('::')), '::');
  assert.equal(requests.addressText(requests.addressBytes('::ffff:10.0.0.7')), '10.0.0.7');
  assert.equal(requests.addressText(Uint8Array.from([1, 2, 3])), undefined);
});
