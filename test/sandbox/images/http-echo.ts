/**
 * Test image `http-echo`: answers every HTTP request with JSON describing it (method, url, headers,
 * the peer address, the pod's hostname). `peer` is the socket's remote address as Node gives it
 * (`::ffff:10.244.0.5` for IPv4 on a dual-stack listener); `peerIp` is the same address in plain
 * form (`10.244.0.5`) and `peerPort` its port, so a test can compare the source with a pod's IP. Listens on PORT (default 8080); with LISTEN_HOST it binds
 * only that address (e.g. 127.0.0.1, to test port-forward to a loopback-only port).
 */
import http from 'node:http';
import os from 'node:os';

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const peer = req.socket.remoteAddress;
    const peerIp = peer?.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
    const body = {
      method: req.method, url: req.url, headers: req.headers, peer, peerIp, peerPort: req.socket.remotePort,
      hostname: os.hostname(), bodyBytes: Buffer.concat(chunks).length,
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
  });
});

const port = Number(process.env.PORT ?? 8080);
const host = process.env.LISTEN_HOST;
server.listen(port, host, () => console.log(`http-echo listening on ${host ?? '*'}:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
