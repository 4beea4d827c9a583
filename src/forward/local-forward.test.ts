import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { MirrordError } from '../errors.ts';
import { parseForwardSpec } from './forward-spec.ts';
import { LocalForward } from './local-forward.ts';
import type { ConnectionEvent } from './connection-events.ts';
import { startTestAgent } from '../../test/support/test-agent.ts';
import { execFile } from 'node:child_process';
import { promisify, stripVTControlCharacters } from 'node:util';
import { connectionLogger } from '../ui/connection-log.ts';

const run = promisify(execFile);

async function server(onConnection: (socket: net.Socket) => void, host = '127.0.0.1'): Promise<net.Server> {
  const s = net.createServer({ allowHalfOpen: true }, onConnection);
  s.listen(0, host);
  await once(s, 'listening');
  return s;
}

function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

test('-L: one stream per connection, bytes both ways, half-close both ways', async (t) => {
  const agent = await startTestAgent();
  // The destination reads until the user's FIN, then answers with a digest of what it got and FINs.
  const dest = await server((socket) => {
    readAll(socket).then((all) => socket.end(`got ${all.length} bytes`));
  });
  const events: ConnectionEvent[] = [];
  const spec = parseForwardSpec(`0:127.0.0.1:${(dest.address() as AddressInfo).port}`);
  const forward = await LocalForward.bind(spec, '127.0.0.1', agent.source, (e) => events.push(e));
  t.after(async () => {
    await forward.close();
    dest.close();
    await agent.close();
  });
  for (let i = 0; i < 3; i++) {
    const client = net.connect({ port: forward.port, host: '127.0.0.1', allowHalfOpen: true });
    const payload = randomBytes(200_000 + i);
    client.end(payload); // the FIN must reach the destination, and its answer must still come back
    const answer = await readAll(client);
    assert.equal(answer.toString(), `got ${payload.length} bytes`);
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(agent.sessions.length, 1, 'all connections share one session');
  assert.equal(events.length, 3);
  assert.ok(events.every((e) => e.outcome === 'closed'));
});

test('-L: a refused destination resets the user connection, and the listener keeps serving', async (t) => {
  const agent = await startTestAgent();
  const closed = await server(() => {});
  const deadPort = (closed.address() as AddressInfo).port;
  closed.close();
  const events: ConnectionEvent[] = [];
  const forward = await LocalForward.bind(parseForwardSpec(`0:127.0.0.1:${deadPort}`), '127.0.0.1', agent.source, (e) => events.push(e));
  t.after(async () => {
    await forward.close();
    await agent.close();
  });
  for (let i = 0; i < 2; i++) {
    const client = net.connect(forward.port, '127.0.0.1');
    client.write('hello');
    const [err] = await once(client, 'error');
    assert.equal((err as NodeJS.ErrnoException).code, 'ECONNRESET');
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(events.length, 2);
  assert.equal(events[0].outcome, 'failed');
  assert.equal((events[0].error as { code?: string }).code, 'ECONNREFUSED');
});

test('-L: a port in use is a LocalError naming the flag', async (t) => {
  const taken = await server(() => {});
  t.after(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  await assert.rejects(LocalForward.bind(parseForwardSpec(`${port}:web:80`), '127.0.0.1', { session: () => Promise.reject(new Error('unused')) }, () => {}), (err: unknown) => {
    assert.ok(err instanceof MirrordError);
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.exitCode, 6);
    assert.match(err.message, new RegExp(`-L ${port}:web:80: 127\\.0\\.0\\.1:${port} is already in use`));
    return true;
  });
});

test('-L failures are one line each by default, in words, with curl as the client; successes are silent', async (t) => {
  const agent = await startTestAgent();
  const dest = await server((socket) => socket.end('HTTP/1.0 200 OK\r\n\r\nok'));
  const probe = await server(() => {});
  const deadPort = (probe.address() as AddressInfo).port;
  probe.close();
  const lines: string[] = [];
  const log = connectionLogger(false, (l) => lines.push(stripVTControlCharacters(l)));
  const forwards = await Promise.all([
    `0:no-such-host.invalid:80`, `0:127.0.0.1:${deadPort}`, `0:127.0.0.1:${(dest.address() as AddressInfo).port}`,
  ].map((text) => LocalForward.bind(parseForwardSpec(text), '127.0.0.1', agent.source, log)));
  t.after(async () => {
    await Promise.all(forwards.map((f) => f.close()));
    dest.close();
    await agent.close();
  });
  const curl = (port: number) => run('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${port}/`]).then((r) => ({ code: 0, ...r }), (e) => e);
  const [unknown, refused, ok] = forwards.map((f) => f.port);
  assert.notEqual((await curl(unknown)).code, 0);
  assert.notEqual((await curl(refused)).code, 0);
  assert.equal((await curl(ok)).stdout, 'ok');
  assert.deepEqual(lines, [
    `port ${unknown} → no-such-host.invalid:80: no such host in the cluster`,
    `port ${refused} → 127.0.0.1:${deadPort}: connection refused by 127.0.0.1:${deadPort}`,
  ]);
});
