/**
 * Outgoing connections: each stream the CLI opens becomes one TCP connection from the agent to the
 * stream's destination, as if a process in the pod had dialled it. Hostnames go through the
 * system resolver (getaddrinfo), so the pod's /etc/resolv.conf search domains apply: `ip-info`
 * resolves the way it would for the app in the pod.
 */
import { connect, type Socket } from 'node:net';
import { ResetReason } from '../src/protocol/constants.ts';
import { resetReasonForErrno } from '../src/protocol/errors.ts';
import type { MuxStream } from '../src/session/stream.ts';
import type { AgentLog } from './log.ts';

/** How long a connection attempt may take before the stream is reset with reason timeout. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Connects `stream` to its destination and relays bytes both ways until both sides are done. */
export function connectOutgoing(stream: MuxStream, log: AgentLog, connectTimeoutMs = CONNECT_TIMEOUT_MS): void {
  const { host, port } = stream.open.destination;
  const socket: Socket = connect({ host, port, allowHalfOpen: true, noDelay: true });
  let connected = false;

  const timer = setTimeout(() => {
    stream.reject(ResetReason.timeout, `connecting to ${host}:${port} timed out after ${connectTimeoutMs} ms`);
    socket.destroy();
  }, connectTimeoutMs);

  socket.once('connect', () => {
    clearTimeout(timer);
    connected = true;
    stream.accept();
    log.debug('stream connected', { stream: stream.id, host, port, address: socket.remoteAddress });
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    if (!connected) {
      const reason = resetReasonForErrno(err.code);
      stream.reject(reason, describeConnectError(host, port, err));
      log.debug('stream refused', { stream: stream.id, host, port, code: err.code });
    } else {
      stream.destroy(err);
    }
  });
  stream.on('error', () => {
    // The CLI reset the stream (or the session ended): pass the abort on as a TCP reset.
    clearTimeout(timer);
    if (!socket.destroyed) socket.resetAndDestroy();
  });
  stream.on('close', () => {
    clearTimeout(timer);
    if (!socket.destroyed && !socket.writableEnded) socket.destroy();
  });
  // Half-close both ways: pipe() ends the other side when one side ends.
  stream.pipe(socket);
  socket.pipe(stream);
}

function describeConnectError(host: string, port: number, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${host} in the cluster (${err.code})`;
    case 'ECONNREFUSED':
      // The address that refused, after resolution: the CLI shows it as the reason in words.
      return refusedBy(host, port, err as NodeJS.ErrnoException & { address?: unknown; port?: unknown });
    default:
      return `cannot connect to ${host}:${port}: ${err.code ?? ''} ${err.message}`.trim();
  }
}

/** `connection refused by 10.96.3.4:9999`: the address that refused, as Node's connect error names it. */
function refusedBy(host: string, port: number, err: { address?: unknown; port?: unknown }): string {
  if (typeof err.address !== 'string' || typeof err.port !== 'number') return `connection refused by ${host}:${port}`;
  return `connection refused by ${err.address.includes(':') ? `[${err.address}]` : err.address}:${err.port}`;
}
