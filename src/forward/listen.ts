/**
 * Binding a listener on the user's machine, with the errors users hit mapped to clear messages.
 * Listeners are bound before any agent is created, so a port in use leaves nothing in the cluster.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { LocalError } from '../errors.ts';
import { formatHostPort } from './address-spec.ts';

/**
 * Listens on `address:port` with `allowHalfOpen` (so a user's FIN does not close our sending side).
 * @param flag the flag that asked for this port, named in errors (`-L 8080:web:80`, `--socks 1080`).
 * @throws LocalError `EADDRINUSE`, `EACCES` or `EADDRNOTAVAIL`.
 */
export async function listenTcp(address: string, port: number, flag: string, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    throw listenError(err, address, port, flag);
  });
  return server;
}

/** The port a listener actually got (differs from the request for port 0). */
export function boundPort(server: net.Server): number {
  return (server.address() as AddressInfo).port;
}

/**
 * Binds a UDP socket on `address:port` (udp6 for an IPv6 address), with the same errors as listenTcp.
 * @throws LocalError `EADDRINUSE`, `EACCES` or `EADDRNOTAVAIL`.
 */
export async function bindUdp(address: string, port: number, flag: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4', ipv6Only: net.isIPv6(address) && address !== '::' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    socket.close();
    throw listenError(err, address, port, flag, 'udp');
  });
  return socket;
}

function listenError(err: NodeJS.ErrnoException, address: string, port: number, flag: string, protocol: 'tcp' | 'udp' = 'tcp'): Error {
  const where = formatHostPort(address, port);
  switch (err.code) {
    case 'EADDRINUSE':
      return new LocalError('EADDRINUSE', `${flag}: ${where} is already in use`, {
        hint: `pick another local port (find the user with: ss ${protocol === 'udp' ? '-lunp' : '-ltnp'} 'sport = :${port}'), or 0 for any free port`,
      });
    case 'EACCES':
      return new LocalError('EACCES', `${flag}: permission denied binding ${where}`, {
        hint: 'ports below 1024 need root or CAP_NET_BIND_SERVICE: use a port of 1024 or more, e.g. 8080',
      });
    case 'EADDRNOTAVAIL':
      return new LocalError('EADDRNOTAVAIL', `${flag}: ${address} is not an address of this machine`, {
        hint: 'use 127.0.0.1 (the default), 0.0.0.0, or an address shown by: ip -brief address',
      });
    default:
      return new LocalError(err.code ?? 'ELISTEN', `${flag}: cannot listen on ${where}: ${err.message}`, { cause: err });
  }
}
