import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { MirrordError } from '../errors.ts';
import { startFakePortForwardServer } from '../../test/support/fake-portforward-server.ts';
import type { FakePortForwardOptions } from '../../test/support/fake-portforward-server.ts';
import { openPortForward, portForwardUrl } from './open-portforward.ts';
import type { PortForwardStream } from './portforward-stream.ts';

function kubeconfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'default' }],
    currentContext: 'x',
  });
  return kc;
}

async function listen(onConnection: (socket: net.Socket) => void): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, server };
}

async function withTunnel(
  onConnection: (socket: net.Socket) => void,
  body: (stream: PortForwardStream) => Promise<void>,
  extra: Partial<FakePortForwardOptions> = {},
  keepaliveMs = 0,
): Promise<void> {
  const target = await listen(onConnection);
  const fake = await startFakePortForwardServer({ targetPort: () => target.port, ...extra });
  try {
    const stream = await openPortForward(kubeconfigFor(fake.url), { namespace: 'default', pod: 'agent', port: 7070 }, { keepaliveMs });
    try {
      await body(stream);
    } finally {
      stream.destroy();
    }
  } finally {
    await fake.close();
    target.server.close();
  }
}

async function readExactly(stream: PortForwardStream, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    got += (chunk as Buffer).length;
    if (got >= length) break;
  }
  return Buffer.concat(chunks);
}

test('the URL keeps a server path prefix and switches to ws/wss', () => {
  const t = { namespace: 'ns', pod: 'p', port: 7070 };
  assert.equal(portForwardUrl('https://k8s.example:6443', t).href, 'wss://k8s.example:6443/api/v1/namespaces/ns/pods/p/portforward?ports=7070');
  assert.equal(portForwardUrl('https://rancher.example/k8s/clusters/c-1/', t).href, 'wss://rancher.example/k8s/clusters/c-1/api/v1/namespaces/ns/pods/p/portforward?ports=7070');
  assert.equal(portForwardUrl('http://127.0.0.1:8001', t).protocol, 'ws:');
});

for (const fuseHeaders of [false, true]) {
  test(`bytes round-trip through the tunnel, port headers stripped (fused headers: ${fuseHeaders})`, async () => {
    await withTunnel((socket) => socket.pipe(socket), async (stream) => {
      const payload = randomBytes(3 * 1024 * 1024 + 17);
      stream.write(payload);
      const echoed = await readExactly(stream, payload.length);
      assert.equal(echoed.length, payload.length);
      assert.ok(echoed.equals(payload));
    }, { fuseHeaders });
  });
}

test('the bearer token from the kubeconfig is sent on the upgrade', async () => {
  const target = await listen((s) => s.end());
  const fake = await startFakePortForwardServer({ targetPort: () => target.port });
  try {
    const stream = await openPortForward(kubeconfigFor(fake.url), { namespace: 'default', pod: 'agent', port: 7070 });
    stream.destroy();
    assert.equal(fake.authorization, 'Bearer secret');
    assert.equal(fake.upgrades, 1);
  } finally {
    await fake.close();
    target.server.close();
  }
});

test('text on the error channel destroys the stream with EPORTFORWARD', async () => {
  const target = await listen(() => {});
  target.server.close(); // nothing listens: the fake kubelet reports the dial failure
  await once(target.server, 'close');
  const fake = await startFakePortForwardServer({ targetPort: () => target.port });
  try {
    const stream = await openPortForward(kubeconfigFor(fake.url), { namespace: 'default', pod: 'agent', port: 7070 });
    stream.resume();
    const [err] = await once(stream, 'error');
    assert.equal((err as MirrordError).code, 'EPORTFORWARD');
    assert.match((err as Error).message, /error forwarding port 7070.*ECONNREFUSED/);
  } finally {
    await fake.close();
  }
});

test('a header naming another port is a protocol error', async () => {
  await withTunnel((s) => s.pipe(s), async (stream) => {
    stream.resume();
    const [err] = await once(stream, 'error');
    assert.equal((err as MirrordError).code, 'EPROTO');
    assert.match((err as Error).message, /announced port 9999, expected 7070/);
  }, { announcePort: 9999 });
});

test('a refused upgrade maps the Status: 403 names the permission', async () => {
  const message = 'pods "agent" is forbidden: User "restricted" cannot create resource "pods/portforward" in API group "" in the namespace "default"';
  const fake = await startFakePortForwardServer({ targetPort: () => 1, refuse: { status: 403, message } });
  try {
    await assert.rejects(openPortForward(kubeconfigFor(fake.url), { namespace: 'default', pod: 'agent', port: 7070 }), (err: unknown) => {
      assert.ok(err instanceof MirrordError);
      assert.equal(err.code, 'EFORBIDDEN');
      assert.equal(err.exitCode, 4);
      assert.equal(err.message, message);
      return true;
    });
  } finally {
    await fake.close();
  }
});

test('an unreachable API server is EAPIUNREACHABLE with exit code 3', async () => {
  const probe = await listen(() => {});
  const port = probe.port;
  probe.server.close();
  await once(probe.server, 'close');
  await assert.rejects(openPortForward(kubeconfigFor(`http://127.0.0.1:${port}`), { namespace: 'd', pod: 'a', port: 1 }), (err: unknown) => {
    assert.ok(err instanceof MirrordError);
    assert.equal(err.code, 'EAPIUNREACHABLE');
    assert.equal(err.exitCode, 3);
    return true;
  });
});

test('a slow reader pauses the WebSocket: the pod side stops being drained', async () => {
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 7);
  const firehose = (socket: net.Socket) => {
    socket.on('error', () => {});
    const pump = () => {
      while (written < 512 * 1024 * 1024) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    pump();
  };
  await withTunnel(firehose, async (stream) => {
    await once(stream, 'readable'); // data flows, but nobody reads it
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stalledAt = written;
    // Buffers on the way: our 1 MiB, ws and the kernel's socket buffers, the fake server's 1 MiB.
    assert.ok(stalledAt < 64 * 1024 * 1024, `source wrote ${stalledAt} bytes into a stalled reader`);
    const more = await readExactly(stream, stalledAt + 8 * 1024 * 1024);
    assert.ok(more.length >= stalledAt + 8 * 1024 * 1024, 'reading again resumes the flow');
  });
});

test('writes into a pod side that does not read eventually report backpressure', async () => {
  await withTunnel((socket) => socket.pause(), async (stream) => {
    const chunk = Buffer.alloc(256 * 1024);
    let accepted = 0;
    while (stream.write(chunk)) {
      accepted += chunk.length;
      assert.ok(accepted < 256 * 1024 * 1024, 'write() never returned false');
      if (accepted % (8 * 1024 * 1024) === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(accepted > 0);
  });
});

test('no pong: the keepalive ends the stream with EKEEPALIVE', async () => {
  await withTunnel((s) => s.pipe(s), async (stream) => {
    stream.resume();
    const [err] = await once(stream, 'error');
    assert.equal((err as MirrordError).code, 'EKEEPALIVE');
  }, { noPong: true }, 50);
});

test('pongs keep the stream alive', async () => {
  await withTunnel((s) => s.pipe(s), async (stream) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(stream.destroyed, false);
    stream.write('ping?');
    assert.equal((await readExactly(stream, 5)).toString(), 'ping?');
  }, {}, 30);
});

test('the pod side ending closes the tunnel with 1000: the stream ends without an error', async () => {
  await withTunnel((s) => s.end('bye'), async (stream) => {
    let failed: Error | undefined;
    stream.on('error', (err) => (failed = err));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'bye');
    assert.equal(failed, undefined);
  });
});

test('ending our side sends a close frame: the server closes the pod connection', async () => {
  let podClosed!: () => void;
  const closed = new Promise<void>((resolve) => (podClosed = resolve));
  await withTunnel((s) => { s.resume(); s.on('close', podClosed); }, async (stream) => {
    stream.resume();
    stream.end();
    await closed;
  });
});

test('a connection dropped without a close frame is ECLOSED with code 1006', async () => {
  const target = await listen((s) => s.resume());
  const fake = await startFakePortForwardServer({ targetPort: () => target.port });
  try {
    const stream = await openPortForward(kubeconfigFor(fake.url), { namespace: 'default', pod: 'agent', port: 7070 });
    stream.resume();
    const failed = once(stream, 'error');
    await fake.close();
    const [err] = await failed;
    assert.equal((err as MirrordError).code, 'ECLOSED');
    assert.match((err as Error).message, /code 1006/);
  } finally {
    target.server.close();
  }
});
