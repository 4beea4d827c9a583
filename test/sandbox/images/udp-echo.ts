/**
 * Test image `udp-echo`: sends every UDP datagram back to its sender, unchanged, from the port it
 * arrived on. Listens on PORT (default 9000) on every IPv4 and IPv6 address of the pod.
 */
import dgram from 'node:dgram';

const port = Number(process.env.PORT ?? 9000);
const socket = dgram.createSocket({ type: 'udp6', ipv6Only: false });
socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
socket.on('error', (err) => console.error(`udp-echo: ${err.message}`));
socket.bind(port, '::', () => console.log(`udp-echo listening on udp *:${port}`));
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
