/**
 * Outgoing UDP: each datagram stream the CLI opens becomes one UDP socket in the pod, `connect`ed
 * to the stream's destination, so it is one 5-tuple as a process in the pod would have it: the
 * kernel passes only the destination's answers, and reports ICMP errors on it (Linux raises a
 * pending ICMP port unreachable as ECONNREFUSED on the next socket call, udp(7), which Node emits
 * as an 'error' from recvmsg). Hostnames resolve through getaddrinfo, so the pod's
 * /etc/resolv.conf search domains and /etc/hosts apply.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ResetReason } from '../src/protocol/constants.ts';
import { resetReasonForErrno } from '../src/protocol/errors.ts';
import type { DatagramStream } from '../src/session/datagram-stream.ts';
import type { AgentLog } from './log.ts';

/**
 * Most datagrams waiting in one socket's send queue (libuv queues what the kernel would not take at
 * once). Past it, datagrams from the CLI are dropped and counted: UDP may lose, memory must not grow.
 */
export const MAX_SOCKET_SEND_QUEUE = 256;

/**
 * Most datagrams held while the destination resolves and the socket connects. Credit goes back to
 * the CLI as datagrams arrive, so without a cap a slow name lookup would let them pile up.
 */
export const MAX_WAITING_DATAGRAMS = 256;

/** Connects `stream` to its destination over UDP and relays datagrams both ways until it ends. */
export function relayDatagrams(stream: DatagramStream, log: AgentLog): void {
  const { host, port } = stream.open.destination;
  const waiting: Buffer[] = [];
  let socket: dgram.Socket | undefined;
  let connected = false;
  let dropped = 0;
  let closed = false;

  const toPod = (datagram: Buffer) => {
    if (!socket || socket.getSendQueueCount() >= MAX_SOCKET_SEND_QUEUE) {
      dropped++;
      return;
    }
    // EMSGSIZE (an IPv4 destination and more than 65 507 bytes) and the like lose one datagram only.
    socket.send(datagram, (err) => { if (err) dropped++; });
  };
  stream.on('message', (datagram: Buffer) => {
    // Datagrams that came right behind the OPEN wait for the socket; the window bounds them.
    if (connected) toPod(datagram);
    else if (waiting.length < MAX_WAITING_DATAGRAMS) waiting.push(datagram);
    else dropped++;
  });
  stream.on('close', (err?: Error) => {
    closed = true;
    if (socket) socket.close();
    const droppedToCli = stream.counts.dropped.window + stream.counts.dropped.tooLarge;
    const fields = {
      stream: stream.id, host, port, fromCli: stream.counts.received, toCli: stream.counts.sent,
      droppedToPod: dropped, droppedToCli, reason: err?.message ?? 'closed',
    };
    // Drops are what a user chasing lost datagrams needs: `kubectl logs` of the agent shows them.
    if (dropped + droppedToCli > 0) log.info('datagram stream ended with drops', fields);
    else log.debug('datagram stream ended', fields);
  });

  void resolve(host).then((address) => {
    if (closed) return;
    const udp = dgram.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    socket = udp;
    udp.on('error', (err: NodeJS.ErrnoException) => {
      const reason = resetReasonForErrno(err.code);
      stream.reject(reason, describeUdpError(host, port, err, connected));
      log.debug('datagram stream failed', { stream: stream.id, host, port, code: err.code });
    });
    udp.on('message', (datagram: Buffer) => stream.send(datagram));
    udp.connect(port, address, () => {
      connected = true;
      stream.accept({ host: address, port });
      for (const datagram of waiting.splice(0)) toPod(datagram);
      log.debug('datagram stream connected', { stream: stream.id, host, port, address });
    });
  }, (err: NodeJS.ErrnoException) => {
    stream.reject(ResetReason.dnsFailure, `cannot resolve ${host} in the cluster (${err.code ?? err.message})`);
  });
}

/** An IP literal as it is; a hostname through getaddrinfo, its first address (the resolver's order). */
async function resolve(host: string): Promise<string> {
  if (isIP(host)) return host;
  const { address } = await lookup(host);
  return address;
}

function describeUdpError(host: string, port: number, err: NodeJS.ErrnoException, connected: boolean): string {
  if (err.code === 'ECONNREFUSED') return `${host}:${port} is not listening on UDP (ICMP port unreachable)`;
  return `${connected ? 'UDP to' : 'cannot connect a UDP socket to'} ${host}:${port}: ${err.code ?? ''} ${err.message}`.trim();
}
