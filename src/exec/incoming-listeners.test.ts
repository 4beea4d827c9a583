import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RequestOp } from '../protocol/constants.ts';
import { LayerFamily } from '../protocol/layer-messages.ts';
import { connectPair, tcpTransport } from '../../test/support/session-harness.ts';
import { ReverseForwards } from '../forward/reverse-forward.ts';
import { IncomingListeners } from './incoming-listeners.ts';
import { planIncoming } from './exec-plan.ts';
import { checkConfig } from '../config/config-schema.ts';

/** An agent that records subscribe/unsubscribe and numbers the subscriptions. */
async function setUp(incoming: unknown = 'steal') {
  const pair = await connectPair(tcpTransport, false);
  const calls: string[] = [];
  let next = 1;
  const ports = new Map<number, number>();
  pair.agent.handleRequests(async (op, body) => {
    const b = body as { port?: number; mode?: string; subscription?: number };
    if (op === RequestOp.portSubscribe) {
      calls.push(`subscribe ${b.port} ${b.mode}`);
      ports.set(next, b.port!);
      return { subscription: next++ };
    }
    calls.push(`unsubscribe ${ports.get(b.subscription!)}`);
    return null;
  });
  const said: string[] = [];
  let listeners: IncomingListeners | undefined;
  const forwards = new ReverseForwards([], {
    target: () => 'pod/web-1', log: () => {}, say: (l) => said.push(l), name: (p) => `port ${p.remotePort}`,
    tracker: { connecting: (s) => listeners!.connecting(s) },
  });
  const plan = planIncoming({}, checkConfig({ feature: { network: { incoming } } }, 'm.json'), true);
  listeners = new IncomingListeners({ plan, forwards, log: () => {}, warnOnce: (l) => said.push(l) });
  await forwards.attach(pair.client);
  const settled = () => forwards.add({ remotePort: 1, localPort: 1, mode: 'mirror', filter: undefined }).then(() => forwards.remove(1)).then(() => calls.splice(-2));
  return { pair, calls, said, listeners, forwards, settled };
}

test('listen subscribes once per pod port; close of the last holder unsubscribes; a fork child keeps it', async () => {
  const { pair, calls, listeners, settled } = await setUp({ mode: 'steal', port_mapping: [[9333, 80]] });
  const parent = {};
  const child = {};
  try {
    const a = listeners.bind(parent, '0.0.0.0', 9333);
    assert.equal(a.listen_port, 9333);
    assert.equal(await listeners.listen(parent, a.listener, '0.0.0.0', 9333), 0);
    assert.deepEqual(calls, ['subscribe 80 steal'], 'port_mapping: the pod\'s port 80');
    // The same pod port from a second socket (a `::` one beside 0.0.0.0): no second subscription.
    const b = listeners.bind(parent, '::', 9333);
    assert.equal(await listeners.listen(parent, b.listener, '::', 9333), 0);
    listeners.close(parent, b.listener);
    // A fork child holds the first; the parent closes it; the child still listens.
    listeners.hold(child, a.listener);
    listeners.close(parent, a.listener);
    await settled();
    assert.deepEqual(calls, ['subscribe 80 steal']);
    listeners.disconnected(child);
    await settled();
    assert.deepEqual(calls, ['subscribe 80 steal', 'unsubscribe 80']);
    assert.deepEqual(listeners.subscribedPorts, []);
    // Bound but never listened, then the process died: nothing to unsubscribe, nothing kept.
    listeners.bind(parent, '0.0.0.0', 9333);
    listeners.disconnected(parent);
    await settled();
    assert.deepEqual(calls, ['subscribe 80 steal', 'unsubscribe 80']);
  } finally {
    pair.destroy();
  }
});

test('200 listen/close loops and 50 ports at once: subscriptions follow, in order, and none is left', async () => {
  const { pair, calls, listeners, forwards, settled } = await setUp('mirror');
  const conn = {};
  try {
    for (let i = 0; i < 200; i++) {
      const { listener } = listeners.bind(conn, '0.0.0.0', 7000);
      await listeners.listen(conn, listener, '0.0.0.0', 7000);
      listeners.close(conn, listener);
    }
    const ids = [];
    for (let port = 7100; port < 7150; port++) {
      const { listener } = listeners.bind(conn, '0.0.0.0', port);
      ids.push(listener);
      await listeners.listen(conn, listener, '0.0.0.0', port);
    }
    assert.equal(forwards.subscribed, 50);
    listeners.disconnected(conn);
    await settled();
    assert.equal(calls.filter((c) => c === 'subscribe 7000 mirror').length, 200);
    assert.equal(calls.filter((c) => c === 'unsubscribe 7000').length, 200);
    for (let i = 0; i < calls.length && calls[i].endsWith('7000') ; i += 2) assert.match(calls[i], /^subscribe/, `call ${i} alternates`);
    assert.equal(calls.filter((c) => c.startsWith('unsubscribe 71')).length, 50);
    assert.equal(forwards.subscribed, 0);
    assert.deepEqual(listeners.subscribedPorts, []);
  } finally {
    pair.destroy();
  }
});

test('a delivered connection names its pod client to INCOMING_PEER; an unknown peer is not found', async () => {
  const { pair, listeners } = await setUp('steal');
  const accepted: number[] = [];
  const app = net.createServer((socket) => {
    accepted.push(socket.remotePort!);
    socket.end('hi');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const port = (app.address() as net.AddressInfo).port;
  const conn = {};
  try {
    const { listener } = listeners.bind(conn, '0.0.0.0', port);
    await listeners.listen(conn, listener, '0.0.0.0', port);
    const stream = pair.agent.openStream({ host: '10.0.0.5', port }, { source: { host: '::ffff:10.0.0.9', port: 40000 } });
    stream.on('error', () => {});
    stream.resume();
    stream.end();
    await new Promise((resolve) => stream.once('end', resolve));
    const answer = await listeners.peer(LayerFamily.ipv4, accepted[0]);
    assert.deepEqual({ ...answer, addr: [...answer.addr] }, { found: 1, family: LayerFamily.ipv4, addr: [10, 0, 0, 9], port: 40000 });
    const unknown = await listeners.peer(LayerFamily.ipv4, 1);
    assert.equal(unknown.found, 0);
  } finally {
    pair.destroy();
    await new Promise((resolve) => app.close(resolve));
  }
});

test('no target: a listen stays local, said once', async () => {
  const said: string[] = [];
  const plan = planIncoming({}, undefined, false);
  const listeners = new IncomingListeners({ plan, forwards: undefined, log: () => {}, warnOnce: (l) => said.push(l) });
  assert.deepEqual(listeners.bind({}, '0.0.0.0', 8080), { listener: 0, listen_port: 0 });
  assert.match(said[0], /the program listens on port 8080, which stays on this machine: incoming traffic needs a target/);
});
