import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:os';
import { startTestAgent } from '../../test/support/test-agent.ts';
import { encodeLayerMessage, LayerDecoder, type LayerDecoded } from '../protocol/layer-codec.ts';
import { LayerFlag, LayerFsMode, type LayerMessageBody, type LayerMessageName } from '../protocol/layer-messages.ts';
import { LayerServer } from './layer-server.ts';
import { TcpInterceptor } from './tcp-interceptor.ts';
import { FileStreams } from './file-streams.ts';
import { planExecFeatures } from './exec-plan.ts';
import { Eai } from './errno.ts';

const show = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? String(x) : x));

/** A fake layer: one Unix connection, requests with ids, answers by id. */
class FakeLayer {
  readonly socket: net.Socket;
  readonly #decoder = new LayerDecoder('proxy → layer');
  readonly #waiting = new Map<number, (m: LayerDecoded) => void>();
  #next = 1;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const m of this.#decoder.push(chunk)) this.#waiting.get(m.id)?.(m);
    });
  }

  static async connect(path: string): Promise<FakeLayer> {
    const socket = net.connect(path);
    await once(socket, 'connect');
    return new FakeLayer(socket);
  }

  ask<K extends LayerMessageName>(name: K, body: LayerMessageBody<K>): Promise<LayerDecoded> {
    const id = this.#next++;
    const answer = new Promise<LayerDecoded>((resolve) => this.#waiting.set(id, resolve));
    this.socket.write(encodeLayerMessage(name, id, body));
    return answer;
  }
}

test('the layer server: HELLO_OK config, DNS, TCP connect through the interceptor, refusals, UDP relay, a malformed frame ends one link only', async (t) => {
  const agent = await startTestAgent();
  const dir = mkdtempSync(join(tmpdir(), 'layer-server-'));
  const echo = net.createServer((s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const udpEcho = dgram.createSocket('udp4');
  udpEcho.on('message', (m, from) => udpEcho.send(m, from.port, from.address));
  udpEcho.bind(0, '127.0.0.1');
  await once(udpEcho, 'listening');
  const logs: string[] = [];
  const interceptor = await TcpInterceptor.listen((l) => logs.push(l));
  const features = planExecFeatures({}, undefined, true);
  const server = await LayerServer.listen(join(dir, 'proxy.sock'), {
    source: agent.source, files: new FileStreams(), interceptor, maxFileBytes: features.fs.maxFileBytes, log: (l) => logs.push(l), warnOnce: (l) => logs.push(`warn ${l}`),
  }, { features, mounts: ['/etc/app'] });
  t.after(async () => {
    await server.close();
    await interceptor.close();
    echo.close();
    udpEcho.close();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const layer = await FakeLayer.connect(join(dir, 'proxy.sock'));

  const hello = await layer.ask('hello', { pid: 1, ppid: 0, exe: '/usr/bin/python3', argv0: 'python3' });
  assert.equal(hello.name, 'helloOk');
  if (hello.name !== 'helloOk') return;
  assert.equal(hello.body.flags, LayerFlag.remoteFs | LayerFlag.remoteDns | LayerFlag.outgoingTcp | LayerFlag.outgoingUdp | LayerFlag.incoming);
  assert.equal(hello.body.fs_mode, LayerFsMode.read);
  assert.deepEqual(hello.body.remote_paths.map((p) => p.pattern), ['^/etc/app(/.*)?$', '^/etc/resolv\\.conf$', '^/etc/hosts$', '^/etc/hostname$']);
  const git = await layer.ask('hello', { pid: 2, ppid: 1, exe: '/usr/bin/git', argv0: 'git' });
  assert.ok(git.name === 'helloOk' && (git.body.flags & LayerFlag.skip) !== 0, 'build tools are skipped');

  const dns = await layer.ask('getaddrinfo', { host: 'localhost', family: 2, socktype: 1, protocol: 0, flags: 0 });
  assert.ok(dns.name === 'getaddrinfoOk');
  if (dns.name !== 'getaddrinfoOk') return;
  assert.equal(dns.body.eai, 0);
  assert.deepEqual([...dns.body.addrs[0].addr], [127, 0, 0, 1]);
  const noName = await layer.ask('getaddrinfo', { host: 'no-such-name.invalid', family: 0, socktype: 0, protocol: 0, flags: 0 });
  assert.ok(noName.name === 'getaddrinfoOk' && (noName.body.eai === Eai.noname || noName.body.eai === Eai.again), show(noName));

  const port = (echo.address() as net.AddressInfo).port;
  const ok = await layer.ask('connect', { proto: 6, family: 4, addr: Uint8Array.from([127, 0, 0, 1]), port });
  assert.ok(ok.name === 'connectOk');
  if (ok.name !== 'connectOk') return;
  assert.equal(ok.body.err, 0);
  assert.equal(ok.body.relay_port, interceptor.port);
  const program = net.connect(ok.body.relay_port, '127.0.0.1');
  await once(program, 'connect');
  const token = Buffer.alloc(8);
  token.writeBigUInt64LE(ok.body.token);
  program.write(Buffer.concat([token, Buffer.from('ping')]));
  const [reply] = await once(program, 'data');
  assert.equal(reply.toString(), 'ping');
  program.destroy();

  const closed = net.createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const closedPort = (closed.address() as net.AddressInfo).port;
  closed.close();
  const refused = await layer.ask('connect', { proto: 6, family: 6, addr: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]), port: closedPort });
  assert.ok(refused.name === 'connectOk' && refused.body.err === constants.errno.ECONNREFUSED, show(refused));

  const udp = await layer.ask('connect', { proto: 17, family: 4, addr: Uint8Array.from([127, 0, 0, 1]), port: (udpEcho.address()).port });
  assert.ok(udp.name === 'connectOk' && udp.body.err === 0);
  if (udp.name !== 'connectOk') return;
  const client = dgram.createSocket('udp4');
  client.send(Buffer.from('dgram'), udp.body.relay_port, '127.0.0.1');
  const [answer] = await once(client, 'message');
  assert.equal(answer.toString(), 'dgram');
  client.close();

  const other = await FakeLayer.connect(join(dir, 'proxy.sock'));
  const bad = Buffer.alloc(10);
  bad.writeUInt32LE(6, 0);
  bad.writeUInt16LE(999, 4);
  other.socket.write(bad);
  await once(other.socket, 'close');
  assert.ok(logs.some((l) => /malformed message/.test(l)), logs.join('\n'));
  const still = await layer.ask('getaddrinfo', { host: 'localhost', family: 2, socktype: 1, protocol: 0, flags: 0 });
  assert.equal(still.name, 'getaddrinfoOk', 'the other link still works');
  layer.socket.destroy();
});
