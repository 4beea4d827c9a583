/**
 * Run by dns-failure.test.ts inside a fresh network and mount namespace, where /etc/resolv.conf
 * names 127.0.0.1 and only loopback exists, so no DNS query can leave the machine. Starts a DNS
 * server on 127.0.0.1:53 that answers NXDOMAIN to everything, an agent, and a client session; asks
 * for a stream and a datagram stream to `name.invalid` and a lookup of it; prints what came back as one JSON line.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Session } from '../../src/session/session.ts';
import { TOKEN } from './session-harness.ts';
import { AgentServer } from '../../agent/server.ts';
import { silentLog } from '../../agent/log.ts';

/** Answers every query with NXDOMAIN (RFC 1035 section 4.1.1: QR=1, RD, RA, RCODE=3). */
async function startNxdomainServer(): Promise<void> {
  const dns = createSocket('udp4');
  dns.on('message', (query, peer) => {
    if (query.length < 12) return;
    const answer = Buffer.from(query);
    answer.writeUInt16BE(0x8183, 2);
    answer.writeUInt16BE(0, 6); // no answers
    answer.writeUInt16BE(0, 8);
    answer.writeUInt16BE(0, 10);
    dns.send(answer, peer.port, peer.address);
  });
  dns.bind(53, '127.0.0.1');
  await once(dns, 'listening');
}

await startNxdomainServer();
const agent = new AgentServer({
  host: '127.0.0.1', port: 0, idleTimeoutMs: 60_000, log: silentLog, onIdle() {},
  tokenSha256: createHash('sha256').update(TOKEN).digest(),
});
const { port } = await agent.listen();
const socket = connect({ host: '127.0.0.1', port });
await once(socket, 'connect');
const session = await Session.connect(socket, { token: TOKEN });

const stream = session.openStream({ host: 'name.invalid', port: 80 });
const [streamError] = await once(stream, 'error') as [Error & { code?: string }];
const datagrams = session.openDatagramStream({ host: 'name.invalid', port: 53 });
const [datagramError] = await once(datagrams, 'close') as [Error & { code?: string }];
const lookupError = await session.lookup('name.invalid').then(() => undefined, (err: Error & { code?: string }) => err);
process.stdout.write(`${JSON.stringify({
  stream: { code: streamError.code, message: streamError.message },
  datagrams: { code: datagramError.code, message: datagramError.message },
  lookup: lookupError && { code: lookupError.code, message: lookupError.message },
})}\n`);
process.exit(0);
