/**
 * Per-connection log lines, printed only with -v: kubectl port-forward's "Handling connection for"
 * on every connection is one of its most disliked habits.
 */
import type { ConnectionEvent, ConnectionLog } from '../forward/connection-events.ts';
import { stderrColors as c } from './colors.ts';

/** `ECONNREFUSED: connect refused by 10.0.0.1:80` style text for any error. */
export function describeError(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

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

/** The log forwarders call: silent unless verbose. */
export function connectionLogger(verbose: boolean, write: (line: string) => void): ConnectionLog {
  return verbose ? (e) => write(formatConnectionEvent(e)) : () => {};
}
