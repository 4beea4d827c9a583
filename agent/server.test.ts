/**
 * The agent core against real local TCP servers on loopback: echo, refusal, half-close, DNS, idle
 * timeout, and a bad client that must not disturb the good ones. Names that must fail to resolve
 * are tested in dns-failure.test.ts, inside a network namespace, so no query leaves the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ProtocolError, StreamResetError } from '../src/protocol/errors.ts';
import { Session } from '../src/session/session.ts';
import { Requests } from '../src/protocol/requests.ts';
import { TOKEN, readAll, writeAll } from '../test/support/session-harness.ts';
import { AgentServer } from './server.ts';
import { silentLog } from './log.ts';

const tokenSha256 = createHash('sha256').update(TOKEN).digest();

interface Agent {
  server: AgentServer;
  port: number;
  /** Resolves with why onIdle was called. */
  idle: Promise<'idle' | 'ended'>;
}

async function startAgent(idleTimeoutMs = 60_000): Promise<Agent> {
  let onIdle!: (why: 'idle' | 'ended') => void;
  const idle = new Promise<'idle' | 'ended'>((resolve) => { onIdle = resolve; });
  const server = new AgentServer({ host: '127.0.0.1', port: 0, tokenSha256, idleTimeoutMs, log: silentLog, onIdle });
  const { port } = await server.listen();
  return { server, port, idle };
}

async function connectClient(port: number, token: Buffer = TOKEN): Promise<Session> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return Session.connect(socket, { token });
}

/** A TCP server on loopback running `handler` for each connection. */
async function tcpServer(handler: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    handler(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

const echoServer = () => tcpServer((socket) => socket.pipe(socket));

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const { server, port } = await tcpServer(() => {});
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function echoOnce(session: Session, port: number, data: Buffer, host = '127.0.0.1'): Promise<Buffer> {
  const stream = session.openStream({ host, port });
  const [echoed] = await Promise.all([readAll(stream), writeAll(stream, data)]);
  return echoed;
}

test('echo through the agent to a real TCP server', async () => {
  const agent = await startAgent();
  const echo = await echoServer();
  const session = await connectClient(agent.port);
  try {
    assert.equal(agent.server.sessionCount, 1);
    const data = randomBytes(2 * 1024 * 1024);
    const stream = session.openStream({ host: '127.0.0.1', port: echo.port });
    const established = once(stream, 'established');
    const [echoed] = await Promise.all([readAll(stream), writeAll(stream, data)]);
    await established;
    assert.ok(echoed.equals(data));
    // A hostname goes through the system resolver (/etc/hosts here, no query leaves the machine).
    assert.equal((await echoOnce(session, echo.port, Buffer.from('by name'), 'localhost')).toString(), 'by name');
  } finally {
    session.destroy();
    echo.server.close();
    await agent.server.close();
  }
});

test('a refused port resets the stream with ECONNREFUSED', async () => {
  const agent = await startAgent();
  const session = await connectClient(agent.port);
  try {
    const port = await closedPort();
    const stream = session.openStream({ host: '127.0.0.1', port });
    stream.write('bytes sent before the refusal are dropped');
    const [err] = await once(stream, 'error') as [StreamResetError];
    assert.ok(err instanceof StreamResetError);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.byPeer, true);
    assert.equal(err.message, `connection refused by 127.0.0.1:${port}`);
    assert.equal(stream.established, false);
    const echo = await echoServer();
    assert.equal((await echoOnce(session, echo.port, Buffer.from('still fine'))).toString(), 'still fine', 'the session lives on');
    echo.server.close();
  } finally {
    session.destroy();
    await agent.server.close();
  }
});

test('half-close: the client ends, the server still answers, then ends', async () => {
  const agent = await startAgent();
  const counter = await tcpServer((socket) => {
    let n = 0;
    socket.on('data', (chunk: Buffer) => { n += chunk.length; });
    socket.on('end', () => socket.end(`got ${n} bytes`));
  });
  const session = await connectClient(agent.port);
  try {
    const stream = session.openStream({ host: '127.0.0.1', port: counter.port });
    const streamClosed = once(stream, 'close');
    stream.end(Buffer.alloc(300_000, 1));
    assert.equal((await readAll(stream)).toString(), 'got 300000 bytes');
    await streamClosed;
    assert.equal(session.streamCount, 0, 'finished both ways, the stream is forgotten');
  } finally {
    session.destroy();
    counter.server.close();
    await agent.server.close();
  }
});

test('half-close: the server ends first while the client keeps sending', async () => {
  const agent = await startAgent();
  let serverGot!: (text: string) => void;
  const received = new Promise<string>((resolve) => { serverGot = resolve; });
  const greeter = await tcpServer((socket) => {
    socket.end('hello, then silence');
    readAll(socket).then((b) => serverGot(b.toString()), () => {});
  });
  const session = await connectClient(agent.port);
  try {
    const stream = session.openStream({ host: '127.0.0.1', port: greeter.port });
    const streamClosed = once(stream, 'close');
    assert.equal((await readAll(stream)).toString(), 'hello, then silence');
    stream.end('the client still talks');
    assert.equal(await received, 'the client still talks');
    await streamClosed;
  } finally {
    session.destroy();
    greeter.server.close();
    await agent.server.close();
  }
});

test('the client resetting a stream resets the TCP connection', async () => {
  const agent = await startAgent();
  let serverSocket!: (s: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => { serverSocket = resolve; });
  const sink = await tcpServer((socket) => serverSocket(socket));
  const session = await connectClient(agent.port);
  try {
    const stream = session.openStream({ host: '127.0.0.1', port: sink.port });
    stream.on('error', () => {});
    await once(stream, 'established');
    const socket = await accepted;
    const closed = new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      socket.on('error', (err) => resolve(err));
      socket.on('close', () => resolve(undefined));
    });
    stream.destroy();
    const err = await closed;
    assert.equal(err?.code, 'ECONNRESET', 'the destination sees a reset, not an orderly end');
  } finally {
    session.destroy();
    sink.server.close();
    await agent.server.close();
  }
});

test('dns lookup of localhost, and bad lookup requests are EINVAL', async () => {
  const agent = await startAgent();
  const session = await connectClient(agent.port);
  try {
    const { addresses } = await session.lookup('localhost');
    assert.ok(addresses.includes('127.0.0.1') || addresses.includes('::1'), `localhost is ${addresses.join(', ')}`);
    assert.deepEqual((await session.lookup('localhost', 4)).addresses, ['127.0.0.1']);
    await assert.rejects(session.request(1, { host: '' }), { code: 'EINVAL', message: /host of 1 to 255 characters/ });
    await assert.rejects(session.request(1, { host: 'localhost', family: 5 }), { code: 'EINVAL', message: /family must be 4 or 6, got 5/ });
    await assert.rejects(session.request(999 as 1, {}), { code: 'ENOTSUP', message: /request op 999 is not supported by this agent/ });
  } finally {
    session.destroy();
    await agent.server.close();
  }
});

test('a wrong token and a stranger are refused while another session keeps working', async () => {
  const agent = await startAgent();
  const echo = await echoServer();
  const good = await connectClient(agent.port);
  try {
    const busy = good.openStream({ host: '127.0.0.1', port: echo.port });
    busy.write('first half, ');

    await assert.rejects(connectClient(agent.port, randomBytes(32)), (err: unknown) => {
      assert.ok(err instanceof ProtocolError);
      assert.equal(err.code, 'EAUTH');
      assert.match(err.message, /this agent belongs to another session/);
      return true;
    });
    const stranger = connect({ host: '127.0.0.1', port: agent.port });
    stranger.on('error', () => {});
    stranger.end('GET / HTTP/1.1\r\nHost: agent\r\n\r\n');
    await once(stranger, 'close');

    const rest = readAll(busy);
    busy.end('second half');
    assert.equal((await rest).toString(), 'first half, second half', 'the stream open across the refusals is intact');
    assert.equal(agent.server.sessionCount, 1);
    const another = await connectClient(agent.port);
    assert.equal((await echoOnce(another, echo.port, Buffer.from('new session'))).toString(), 'new session');
    another.destroy();
  } finally {
    good.destroy();
    echo.server.close();
    await agent.server.close();
  }
});

test('the idle timeout fires when no session is connected', async () => {
  const agent = await startAgent(100);
  try {
    await agent.idle;
    assert.equal(agent.server.sessionCount, 0);
  } finally {
    await agent.server.close();
  }
});

test('the idle timeout does not fire while a session is connected, and does after it ends', async () => {
  const agent = await startAgent(400);
  let fired = false;
  void agent.idle.then(() => { fired = true; });
  const session = await connectClient(agent.port);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(fired, false, 'no idle exit with a client connected');
    assert.equal(agent.server.sessionCount, 1);
    await session.close();
    await agent.idle;
    assert.equal(agent.server.sessionCount, 0);
  } finally {
    session.destroy();
    await agent.server.close();
  }
});

test('after sessionEnd, the agent exits as soon as its last session closes, without the idle timeout', async () => {
  const agent = await startAgent(600_000);
  const session = await connectClient(agent.port);
  const other = await connectClient(agent.port);
  try {
    assert.equal(await session.call(Requests.sessionEnd, {}), null);
    await session.close();
    // Another session is still open: nothing ends yet.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(agent.server.sessionCount, 1);
    await other.close();
    assert.equal(await agent.idle, 'ended');
    assert.equal(agent.server.sessionCount, 0);
  } finally {
    session.destroy();
    other.destroy();
    await agent.server.close();
  }
});

test('a session that drops without sessionEnd leaves the agent waiting its idle timeout for a reconnect', async () => {
  const agent = await startAgent(5000);
  let fired: string | undefined;
  void agent.idle.then((w) => { fired = w; });
  const session = await connectClient(agent.port);
  try {
    session.destroy();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(fired, undefined, 'no exit before the idle timeout');
    assert.equal(await agent.idle, 'idle');
  } finally {
    await agent.server.close();
  }
});
