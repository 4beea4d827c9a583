/**
 * The user's app of the incoming-traffic benchmark (bench/cases/incoming.ts): answers every request
 * with its label, so the benchmark can tell which process a path reaches.
 *   node bench/incoming-app.ts LABEL HOST PORT    (PORT 0: any free port)
 * Prints one JSON line once it listens: {"event":"listening","port":N}.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const [label, host, port] = process.argv.slice(2);
if (!label || !host || !/^\d+$/.test(port ?? '')) {
  console.error('usage: node bench/incoming-app.ts LABEL HOST PORT');
  process.exit(2);
}
const server = http.createServer((_req, res) => res.end(label));
server.listen(Number(port), host, () => {
  console.log(JSON.stringify({ event: 'listening', port: (server.address() as AddressInfo).port }));
});
