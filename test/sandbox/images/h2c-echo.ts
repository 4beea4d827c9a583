/**
 * Test image `h2c-echo`: cleartext HTTP/2 with prior knowledge (h2c, what gRPC speaks without TLS)
 * on 0.0.0.0:PORT (default 8080). Every request gets status 200, the body `remote <path>`, the
 * response header `x-served-by: remote`, and the trailer `x-trailer: remote`, so a test can tell
 * which app answered and that trailers came through. It speaks no HTTP/1: give its pod a tcpSocket
 * readiness probe.
 */
import http2 from 'node:http2';

const server = http2.createServer();
server.on('stream', (stream, headers) => {
  // Read the request body to its end before answering, as a real server would: the answer then
  // also proves the request's end of stream came through.
  stream.resume();
  stream.on('end', () => {
    if (stream.destroyed) return;
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-served-by': 'remote' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'remote' }));
    stream.end(`remote ${headers[':path']}`);
  });
  stream.on('error', () => {});
});
server.on('sessionError', () => {});

const port = Number(process.env.PORT ?? 8080);
server.listen(port, '0.0.0.0', () => console.log(`h2c-echo listening on 0.0.0.0:${port}`));
// PID 1 in its container gets no default SIGTERM handling: exit on it, or deletion waits for SIGKILL.
process.on('SIGTERM', () => process.exit(0));
