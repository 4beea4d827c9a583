/**
 * Requests time out: an agent that keeps answering pings but never answers a request (a stalled
 * handler, a hung iptables) fails the request with ETIMEDOUT naming the op, instead of hanging it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Requests } from '../protocol/requests.ts';
import { RequestOp } from '../protocol/constants.ts';
import { connectPair, tcpTransport } from '../../test/support/session-harness.ts';
import { ReverseForwards } from '../forward/reverse-forward.ts';
import { MirrordError } from '../errors.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS, RequestTimeoutError } from './requests.ts';

/** An agent whose request handler never settles; its session stays up and answers pings. */
async function stalledAgent(t: { after(fn: () => void): void }, options: { requestTimeoutMs?: number; keepaliveMs?: number } = {}) {
  const pair = await connectPair(tcpTransport, false, options);
  const asked: number[] = [];
  pair.agent.handleRequests((op) => {
    asked.push(op);
    return new Promise(() => {});
  });
  t.after(() => pair.destroy());
  return { ...pair, asked };
}

test('the default request timeout is 30 s', () => {
  assert.equal(DEFAULT_REQUEST_TIMEOUT_MS, 30_000);
});

test('a request the agent never answers rejects with ETIMEDOUT naming the op, while pings still flow', { timeout: 20_000 }, async (t) => {
  const { client, asked } = await stalledAgent(t, { keepaliveMs: 50 });
  await assert.rejects(client.call(Requests.dnsLookup, { host: 'web' }, { timeoutMs: 300 }), (err: unknown) => {
    assert.ok(err instanceof RequestTimeoutError);
    assert.equal(err.code, 'ETIMEDOUT');
    assert.equal(err.op, 'dnsLookup');
    assert.equal(err.message, 'the agent did not answer dnsLookup within 300 ms');
    return true;
  });
  assert.deepEqual(asked, [RequestOp.dnsLookup]);
  // The keepalive timeout is 3 × 50 ms, far below the 300 ms waited: the session is still up only
  // because pings were answered all along, which is why keepalive alone never ends such a wait.
  assert.equal(client.closed, false);
});

test('the session-wide timeout applies to every call; a late answer is dropped, not a protocol error', async (t) => {
  const pair = await connectPair(tcpTransport, false, { requestTimeoutMs: 200 });
  t.after(() => pair.destroy());
  let release: (answer: unknown) => void = () => {};
  pair.agent.handleRequests(() => new Promise((resolve) => (release = resolve)));
  await assert.rejects(pair.client.lookup('web'), /did not answer dnsLookup within 200 ms/);
  release({ addresses: ['10.0.0.1'] });
  // The late RESPONSE arrives and is ignored; the next request still works.
  pair.agent.handleRequests(async () => ({ addresses: ['10.0.0.2'] }));
  const answer = await pair.client.lookup('web');
  assert.deepEqual(answer.addresses, ['10.0.0.2']);
  assert.equal(pair.client.closed, false);
});

test('attach() at start-up fails with the op named instead of hanging on a stalled agent', { timeout: 20_000 }, async (t) => {
  const { client } = await stalledAgent(t, { requestTimeoutMs: 300 });
  const reverse = new ReverseForwards([{ remotePort: 80, localPort: 8080, mode: 'steal', filter: undefined }], { target: () => 'pod/web-1', say: () => {}, log: () => {} });
  await assert.rejects(reverse.attach(client), (err: unknown) => {
    assert.ok(err instanceof MirrordError);
    assert.equal(err.exitCode, 5);
    assert.match(err.message, /^-R 80 \(steal\) on pod\/web-1: ETIMEDOUT: the agent did not answer portSubscribe within 300 ms$/);
    return true;
  });
});

test('a session that closes rejects the waiting request at once with its own error', async (t) => {
  const { client, agent } = await stalledAgent(t);
  const pending = client.lookup('web');
  const closed = once(client, 'close');
  agent.destroy();
  await assert.rejects(pending, (err: unknown) => !(err instanceof RequestTimeoutError));
  await closed;
});
