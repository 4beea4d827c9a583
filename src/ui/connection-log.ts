/**
 * What the user sees of each connection. A connection that never reached its destination gets one
 * line by default, rate-limited (failure-lines.ts): the user must be able to tell a typo in a name
 * from a service that is down. Everything else (connections that worked, errors in the middle of
 * a transfer) prints only with -v: kubectl port-forward's "Handling connection for" on every
 * connection is one of its most disliked habits.
 */
import type { ConnectionEvent, ConnectionLog } from '../forward/connection-events.ts';
import { stderrColors as c } from './colors.ts';
import { FailureLines, systemClock, type Clock } from './failure-lines.ts';

/** `ECONNREFUSED: connect refused by 10.0.0.1:80` style text for any error. */
export function describeError(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Why a connection to `destination` failed, in words. The agent's reset messages carry the
 * specifics (the address that refused, the timeout); the code says which kind it was.
 */
export function failureReason(err: Error, destination: string): string {
  const e = err as Error & { code?: unknown; address?: unknown; port?: unknown };
  switch (e.code) {
    case 'ENOTFOUND':
      // The agent maps every resolver failure to one reset reason; EAI_AGAIN is "try again", not "no such name".
      return /EAI_AGAIN/.test(e.message) ? "the cluster's DNS did not answer (EAI_AGAIN); it may work on a retry" : 'no such host in the cluster';
    case 'ECONNREFUSED':
      // The agent's words: the address that refused (TCP), or the ICMP port unreachable (UDP).
      if (/^connection refused by |is not listening on UDP/.test(e.message)) return e.message;
      if (typeof e.address === 'string' && typeof e.port === 'number') return `connection refused by ${bracketed(e.address)}:${e.port}`;
      return `connection refused by ${destination}`;
    case 'EHOSTUNREACH':
      return `no route to ${destination} from the cluster (host unreachable)`;
    case 'ENETUNREACH':
      return `no route to ${destination} from the cluster (network unreachable)`;
    case 'ETIMEDOUT':
      return `no answer from ${destination}: ${e.message}`;
    case 'ENOSESSION':
      return `no agent connection: ${e.message}`;
    default:
      return describeError(err);
  }
}

/** The default line for a connection that never reached its destination. */
export function formatFailure(e: ConnectionEvent): string {
  const reason = e.error ? failureReason(e.error, e.destination) : 'unknown';
  return `${e.listener ?? e.via} → ${e.destination}: ${reason}`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The -v line of any connection. */
export function formatConnectionEvent(e: ConnectionEvent): string {
  const head = `${e.via}  ${e.peer} → ${e.destination}`;
  if (e.outcome === 'failed') return c.red(`${head}  failed: ${e.error ? describeError(e.error) : 'unknown'}`);
  if (e.datagrams) {
    const d = e.datagrams;
    const kernel = d.kernelDropped ? `; the kernel dropped ${d.kernelDropped} on the listener so far (receive buffer full)` : '';
    return c.dim(`${head}  udp ↑${d.sent} ↓${d.received} datagrams (${bytes(e.sent)} / ${bytes(e.received)}), ${d.dropped} dropped${kernel}  ${e.durationMs} ms`);
  }
  return c.dim(`${head}  ↑${bytes(e.sent)} ↓${bytes(e.received)}  ${e.durationMs} ms`);
}

/**
 * The ConnectionLog the forwarders are given. `write` is the sink, one line without its newline:
 * the terminal for port-forward, the session's log file under exec (the program owns the terminal).
 * Connections that never reached their destination: one line each, always (rate-limited without
 * -v, every one with -v, naming the client). Everything else: only with -v.
 */
export function connectionLogger(verbose: boolean, write: (line: string) => void, clock: Clock = systemClock): ConnectionLog & { flush(): void } {
  const failures = new FailureLines((line) => write(c.red(line)), clock);
  const log = (e: ConnectionEvent) => {
    if (e.outcome === 'failed' && e.failedToConnect) {
      if (verbose) write(c.red(`${formatFailure(e)}  (client ${e.peer}, ${e.via})`));
      else failures.report(formatFailure(e));
    } else if (verbose) {
      write(formatConnectionEvent(e));
    }
  };
  /** At exit: the counts of the failures still being summed up. */
  return Object.assign(log, { flush: () => failures.flush() });
}
