import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { FakeStore } from './fake-store.ts';
import { resolve } from './dns-records.ts';
import { ClusterDns } from './dns-server.ts';
import { encodeName, RCODE, RR_TYPE } from './dns-wire.ts';

function store(): FakeStore {
  const s = new FakeStore();
  s.put('namespaces', { metadata: { name: 'default' } });
  s.put('services', { metadata: { name: 'ip-info' }, spec: { clusterIP: '10.96.0.50', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
  s.put('services', { metadata: { name: 'db' }, spec: { clusterIP: 'None', ports: [{ port: 5432 }] } });
  s.put('endpoints', { metadata: { name: 'db' }, subsets: [{ addresses: [{ ip: '10.244.0.7', hostname: 'db-0' }, { ip: '10.244.0.8' }], ports: [{ port: 5432 }] }] });
  return s;
}

const ips = (parts: ReturnType<typeof resolve>) => parts.answers.map((a) => [...a.rdata].join('.'));

test('a Service name answers its ClusterIP; AAAA is empty NOERROR', () => {
  const s = store();
  assert.deepEqual(ips(resolve(s, 'ip-info.default.svc.cluster.local.', RR_TYPE.A)), ['10.96.0.50']);
  const aaaa = resolve(s, 'IP-INFO.default.svc.cluster.local', RR_TYPE.AAAA);
  assert.equal(aaaa.rcode, RCODE.NOERROR);
  assert.equal(aaaa.answers.length, 0);
  assert.equal(aaaa.authority[0].type, RR_TYPE.SOA);
});

test('a headless Service answers its endpoints, and endpoint hostnames resolve', () => {
  const s = store();
  assert.deepEqual(ips(resolve(s, 'db.default.svc.cluster.local', RR_TYPE.A)), ['10.244.0.7', '10.244.0.8']);
  assert.deepEqual(ips(resolve(s, 'db-0.db.default.svc.cluster.local', RR_TYPE.A)), ['10.244.0.7']);
});

test('pod names, SRV, unknown names and names outside the cluster', () => {
  const s = store();
  assert.deepEqual(ips(resolve(s, '10-244-0-9.default.pod.cluster.local', RR_TYPE.A)), ['10.244.0.9']);
  const srv = resolve(s, '_http._tcp.ip-info.default.svc.cluster.local', RR_TYPE.SRV);
  assert.equal(srv.answers[0].rdata.readUInt16BE(4), 80);
  assert.equal(resolve(s, 'nope.default.svc.cluster.local', RR_TYPE.A).rcode, RCODE.NXDOMAIN);
  assert.equal(resolve(s, 'ip-info.default.svc.cluster.local.default.svc.cluster.local', RR_TYPE.A).rcode, RCODE.NXDOMAIN);
  assert.equal(resolve(s, 'default.svc.cluster.local', RR_TYPE.A).rcode, RCODE.NOERROR);
  assert.equal(resolve(s, 'example.com', RR_TYPE.A).rcode, RCODE.NXDOMAIN);
  assert.deepEqual(ips(resolve(s, 'localhost', RR_TYPE.A)), ['127.0.0.1']);
  s.put('services', { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } });
  const cname = resolve(s, 'ext.default.svc.cluster.local', RR_TYPE.A).answers[0];
  assert.equal(cname.type, RR_TYPE.CNAME);
  assert.equal(cname.rdata.toString('latin1'), '\x02db\x07example\x03com\x00');
});

function rawQuery(name: string, type: number): Buffer {
  return Buffer.concat([Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), encodeName(name), Buffer.from([0, type, 0, 1])]);
}

test('the server answers over UDP and over TCP with length prefixes', async () => {
  const dns = new ClusterDns(store(), '127.0.0.1', 0);
  await dns.start();
  try {
    const udp = dgram.createSocket('udp4');
    const reply = await new Promise<Buffer>((res) => {
      udp.once('message', res);
      udp.send(rawQuery('ip-info.default.svc.cluster.local', RR_TYPE.A), dns.port, '127.0.0.1');
    });
    udp.close();
    assert.equal(reply.readUInt16BE(0), 0xabcd);
    assert.equal(reply.readUInt16BE(6), 1);
    assert.deepEqual([...reply.subarray(-4)], [10, 96, 0, 50]);
    const sock = net.connect(dns.port, '127.0.0.1');
    const q = rawQuery('nope.default.svc.cluster.local', RR_TYPE.A);
    const framed = Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q]);
    // Two queries in one write, the second split across writes: both must be answered.
    sock.write(Buffer.concat([framed, framed.subarray(0, 5)]));
    setTimeout(() => sock.write(framed.subarray(5)), 20);
    const got = await new Promise<Buffer>((res) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        const first = 2 + buf.readUInt16BE(0);
        if (buf.length >= first + 2 && buf.length >= first + 2 + buf.readUInt16BE(first)) res(buf);
      });
    });
    sock.destroy();
    assert.equal(got.readUInt16BE(2 + 2) & 0xf, RCODE.NXDOMAIN);
  } finally {
    await dns.stop();
  }
});
