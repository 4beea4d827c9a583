/**
 * Test support: the "original app" that runs inside the test namespace. An HTTP/1.1 server on the
 * first port and an h2c server on the second, both on all addresses. Every answer names the app
 * (`x-served-by: original`) and echoes what it got, so a test can tell who answered.
 *
 *   node pod-app.ts <http1 port> <h2c port>
 */
import http from 'node:http';
import http2 from 'node:http2';

const [h1Port, h2Port] = process.argv.slice(2).map(Number);

const h1 = http.createServer((req, res) => {
  let bytes = 0;
  req.on('data', (d: Buffer) => { bytes += d.length; });
  req.on('end', () => {
    res.setHeader('x-served-by', 'original');
    res.end(`original ${req.method} ${req.url} body=${bytes}`);
  });
});
h1.keepAliveTimeout = 30_000;

const h2 = http2.createServer();
h2.on('stream', (stream, headers) => {
  let bytes = 0;
  stream.on('data', (d: Buffer) => { bytes += d.length; });
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'x-served-by': 'original' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trailer': 'original' }));
    stream.end(`original h2 ${headers[':path']} body=${bytes}`);
  });
});

let ready = 0;
const announce = () => { if (++ready === 2) process.stdout.write(`${JSON.stringify({ event: 'listening', h1Port, h2Port })}\n`); };
// `::` without IPV6_V6ONLY takes IPv4 too (ipv6(7)), as Node's and Go's default listeners do.
h1.listen({ port: h1Port, host: '::', ipv6Only: false }, announce);
h2.listen({ port: h2Port, host: '::', ipv6Only: false }, announce);
