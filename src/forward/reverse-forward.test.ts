import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { duplexPair } from 'node:stream';
import { Capability, RequestOp } from '../protocol/constants.ts';
import { Session } from '../session/session.ts';
import { RequestError } from '../protocol/request-errors.ts';
import { TOKEN, connectPair, tcpTransport, verifyToken } from '../../test/support/session-harness.ts';
import { MirrordError } from '../errors.ts';
import { ReverseForwards } from './reverse-forward.ts';
import type { ConnectionEvent } from './connection-events.ts';
import type { ReversePlan } from './reverse-spec.ts';

const quiet = { target: () => 'pod/web-1', say: () => {} };

/** The user's app: echoes upper-cased, and half-closes after the client does. */
async function userApp(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end(Buffer.concat(chunks).toString().toUpperCase()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.on('error', reject);
  });
}

test('subscribes each port, then an agent stream reaches the user app on its local port, with half-close', async () => {
  const app = await userApp();
  const pair = await connectPair(tcpTransport, false);
  const bodies: unknown[] = [];
  pair.agent.handleRequests(async (op, body) => {
    assert.equal(op, RequestOp.portSubscribe);
    bodies.push(body);
    return { subscription: bodies.length };
  });
  const events: ConnectionEvent[] = [];
  const plans: ReversePlan[] = [
    { remotePort: 80, localPort: app.port, mode: 'steal', filter: { header: '^x-user: me$', path: undefined, ports: [80] } },
    { remotePort: 81, localPort: app.port, mode: 'mirror', filter: undefined },
  ];
  const reverse = new ReverseForwards(plans, { ...quiet, log: (e) => events.push(e) });
  try {
    await reverse.attach(pair.client);
    // JSON on the wire: the unset path is left out.
    assert.deepEqual(bodies, [{ port: 80, mode: 'steal', filter: { header: '^x-user: me$', ports: [80] } }, { port: 81, mode: 'mirror' }]);
    const stream = pair.agent.openStream({ host: '10.0.0.5', port: 80 }, { source: { host: '10.0.0.9', port: 40000 } });
    stream.end('hello');
    assert.equal(await readAll(stream), 'HELLO');
    assert.ok(stream.established);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(events[0]?.peer, '10.0.0.9:40000');
    assert.equal(events[0]?.outcome, 'closed');
  } finally {
    pair.destroy();
    await app.close();
  }
});

test('a user app that is not listening gets the stream refused at once; unknown ports are not allowed', async () => {
  const app = await userApp();
  const port = app.port;
  await app.close();
  const pair = await connectPair(tcpTransport, false);
  pair.agent.handleRequests(async () => ({ subscription: 1 }));
  const reverse = new ReverseForwards([{ remotePort: 80, localPort: port, mode: 'steal', filter: undefined }], { ...quiet, log: () => {} });
  try {
    await reverse.attach(pair.client);
    const refused = pair.agent.openStream({ host: '10.0.0.5', port: 80 });
    await assert.rejects(readAll(refused), (err: Error & { code?: string }) => err.code === 'ECONNREFUSED' && /nothing listens on 127\.0\.0\.1/.test(err.message));
    const unknown = pair.agent.openStream({ host: '10.0.0.5', port: 443 });
    await assert.rejects(readAll(unknown), (err: Error & { code?: string }) => err.code === 'EACCES' && /no -R for port 443/.test(err.message));
  } finally {
    pair.destroy();
  }
});

test('agent refusals become errors that name the -R; an agent without incoming is too old', async () => {
  const pair = await connectPair(tcpTransport, false);
  pair.agent.handleRequests(async () => {
    throw new RequestError('ENOTLISTENING', 'nothing in the pod listens on TCP port 80');
  });
  try {
    await assert.rejects(new ReverseForwards([{ remotePort: 80, localPort: 80, mode: 'mirror', filter: undefined }], { ...quiet, log: () => {} }).attach(pair.client),
      (err: unknown) => err instanceof MirrordError && err.code === 'ENOTLISTENING' && err.exitCode === 4 && /^-R 80 \(mirror\) on pod\/web-1: nothing in the pod listens/.test(err.message));
  } finally {
    pair.destroy();
  }
  const [clientEnd, agentEnd] = duplexPair();
  const [client, agent] = await Promise.all([
    Session.connect(clientEnd, { token: TOKEN }),
    Session.accept(agentEnd, { verifyToken, capabilities: Capability.tcpConnect | Capability.dns }),
  ]);
  try {
    await assert.rejects(new ReverseForwards([{ remotePort: 80, localPort: 80, mode: 'mirror', filter: undefined }], { ...quiet, log: () => {} }).attach(client),
      (err: unknown) => err instanceof MirrordError && err.code === 'EAGENTINCOMING');
  } finally {
    client.destroy();
    agent.destroy();
  }
});
