/** kubectl port-forward (SPDY/3.1 after its WebSocket tunnel is refused) against the fake node. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { FrameReader, HeaderCodec, SPDY_DICTIONARY, controlFrame, dataFrame, FLAG_FIN } from './spdy-framer.ts';
import { eventually, startTestServer, type TestServer } from './test-server.test-support.ts';

let ts: TestServer;
let echo: Server;
const children: ChildProcess[] = [];

before(async () => {
  ts = await startTestServer();
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  ts.node.ports.set(8080, (echo.address() as { port: number }).port);
  const core = ts.kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'target' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
  await eventually(async () => (await core.readNamespacedPod({ name: 'target', namespace: 'default' })).status?.phase === 'Running');
});
after(async () => {
  for (const c of children) c.kill();
  echo.close();
  await ts.close();
});

/** Starts `kubectl port-forward pod/target :<podPort>` and resolves to the local port it picked. */
function portForward(podPort: number): Promise<{ port: number; output: () => string }> {
  const child = spawn('kubectl', ['port-forward', '--address', '127.0.0.1', 'pod/target', `:${podPort}`], { env: { ...process.env, KUBECONFIG: ts.kubeconfigPath } });
  children.push(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return eventually(() => {
    const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(output);
    return m ? { port: Number(m[1]), output: () => output } : undefined;
  }, 15_000);
}

function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const s = connect(port, '127.0.0.1', () => s.write(payload));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      if (received >= payload.length) {
        s.end();
        resolve(Buffer.concat(chunks));
      }
    });
    s.on('error', reject);
  });
}

test('the SPDY/3 dictionary is the 1423 bytes spdystream compresses with', () => {
  assert.equal(SPDY_DICTIONARY.length, 1423);
  assert.equal(createHash('sha256').update(SPDY_DICTIONARY).digest('hex'), '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02');
});

test('frames split across chunks are reassembled; header blocks round-trip through one zlib stream each way', async () => {
  const reply = Buffer.alloc(4);
  reply.writeUInt32BE(5);
  const bytes = Buffer.concat([controlFrame(2, 0, reply), dataFrame(5, FLAG_FIN, Buffer.from('abc'))]);
  const reader = new FrameReader();
  const frames = [...bytes].flatMap((b) => reader.push(Buffer.from([b])));
  assert.deepEqual(frames.map((f) => (f.control ? `c${f.type}` : `d${f.streamId}:${f.flags}:${f.data}`)), ['c2', 'd5:1:abc']);
  const a = new HeaderCodec();
  const b = new HeaderCodec();
  for (const port of ['80', '8080']) {
    const decoded = await b.decode(await a.encode([['streamtype', 'data'], ['port', port]]));
    assert.deepEqual([...decoded], [['streamtype', 'data'], ['port', port]]);
  }
  a.close();
  b.close();
});

test('kubectl port-forward relays two connections, 2 MiB intact', async () => {
  const pf = await portForward(8080);
  assert.equal((await roundTrip(pf.port, Buffer.from('hello'))).toString(), 'hello');
  const payload = randomBytes(2 * 1024 * 1024);
  const back = await roundTrip(pf.port, payload);
  assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(payload).digest('hex'));
  assert.match(pf.output(), /Handling connection for \d+\n.*Handling connection for/s);
});

test('a refused pod port reaches kubectl as the kubelet error text', async () => {
  const pf = await portForward(9999);
  const s = connect(pf.port, '127.0.0.1');
  s.on('error', () => undefined);
  s.write('x');
  await eventually(() => /an error occurred forwarding \d+ -> 9999: error forwarding port 9999 to pod target, uid : .*connection refused/.test(pf.output()), 10_000);
  s.destroy();
});
