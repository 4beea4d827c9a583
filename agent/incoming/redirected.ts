/**
 * A connection that iptables redirected to the agent, with what the handlers need to know about
 * it: the port the client meant, where it came from, and the session that subscribed the port.
 */
import type { Socket } from 'node:net';
import type { Destination } from '../../src/protocol/address.ts';
import type { Session } from '../../src/session/session.ts';
import type { MuxStream } from '../../src/session/stream.ts';
import type { AgentLog } from '../log.ts';

export interface RedirectedConnection {
  /** The client's connection, accepted on the agent's listener for `port`. */
  socket: Socket;
  /** The pod port the client connected to. */
  port: number;
  /** Where the client meant to go: the pod address it reached, and `port`. */
  destination: Destination;
  /** The client's address: the OPEN's source field. */
  source: Destination;
  session: Session;
  log: AgentLog;
}

/**
 * Strips the IPv4-mapped prefix Node puts on IPv4 peers of a dual-stack socket (`::ffff:10.0.0.5`,
 * RFC 4291 section 2.5.5.2), and a zone index (`fe80::1%eth0`), which the wire format has no room for.
 */
export function plainAddress(address: string | undefined, fallback: string): string {
  if (!address) return fallback;
  const unzoned = address.replace(/%.*$/, '');
  return unzoned.startsWith('::ffff:') && unzoned.includes('.') ? unzoned.slice(7) : unzoned;
}

/**
 * Describes a redirected connection. REDIRECT rewrites the destination to the address of the
 * interface the packet came in on (iptables-extensions(8)): the pod IP, as the client meant.
 */
export function describeRedirected(socket: Socket, port: number, session: Session, log: AgentLog): RedirectedConnection {
  return {
    socket, port, session, log,
    destination: { host: plainAddress(socket.localAddress, '127.0.0.1'), port },
    source: { host: plainAddress(socket.remoteAddress, '0.0.0.0'), port: socket.remotePort || 1 },
  };
}

/** Opens a stream toward the CLI for this connection, or undefined when the session takes no new streams. */
export function openUserAppStream(conn: RedirectedConnection): MuxStream | undefined {
  try {
    return conn.session.openStream(conn.destination, { source: conn.source });
  } catch (err) {
    conn.log.debug('cannot open a stream for incoming traffic', { port: conn.port, error: (err as Error).message });
    return undefined;
  }
}
