import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { addedLatencyRatio, latency, quantile, throughput } from './http-load.ts';

test('quantile takes the sample at floor(q·n), the last one for q = 1', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantile(xs, 0.5), 51);
  assert.equal(quantile(xs, 0.99), 100);
  assert.equal(quantile(xs, 1), 100);
  assert.equal(quantile([7], 0.5), 7);
  assert.throws(() => quantile([], 0.5), /no samples/);
});

test('addedLatencyRatio compares what each path adds over direct', () => {
  assert.equal(addedLatencyRatio(1.5, 1.0, 0.5), 2);
  assert.equal(addedLatencyRatio(0.9, 1.0, 0.5), 0.8);
  assert.ok(Number.isNaN(addedLatencyRatio(1.5, 0.5, 0.5)), 'a baseline adding nothing gives no ratio');
  assert.ok(Number.isNaN(addedLatencyRatio(1.5, 0.4, 0.5)));
});

test('latency and throughput measure real requests, and a non-200 answer fails them', async () => {
  let requests = 0;
  let status = 200;
  const server = http.createServer((_req, res) => { requests++; res.writeHead(status).end('x'); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const lat = await latency('127.0.0.1', port, 50);
    assert.equal(requests, 70, '20 warm-up requests and 50 measured');
    assert.ok(lat.p50 > 0 && lat.p99 >= lat.p50, JSON.stringify(lat));
    const before = requests;
    const rps = await throughput('127.0.0.1', port, 300, 4);
    assert.equal(rps, (requests - before) / 0.3);
    assert.ok(rps > 0);
    status = 503;
    await assert.rejects(latency('127.0.0.1', port, 1), /HTTP 503/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
