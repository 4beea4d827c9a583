/**
 * The lines printed once the agent is ready: what listens where, and how to use it.
 */
import { formatHostPort } from '../forward/address-spec.ts';
import { stderrColors as c } from './colors.ts';

export interface SummaryForward {
  address: string;
  port: number;
  destination: string;
  /** `udp` is shown on the line; TCP, the default, is not. */
  protocol?: 'tcp' | 'udp';
}

/** One -R: `pod/web-1:80` → `127.0.0.1:8080`, with its mode (`steal, header ^x-user: me$`). */
export interface SummaryReverse {
  from: string;
  to: string;
  mode: string;
}

export interface SummaryInput {
  forwards: SummaryForward[];
  reverse?: SummaryReverse[];
  socks: { address: string; port: number; auth: boolean } | undefined;
  namespace: string;
  context: string;
}

/** A compact table: one line per listener, then a hint for SOCKS clients. */
export function formatSummary(input: SummaryInput): string {
  const rows: Array<[string, string]> = input.forwards.map((f) => [formatHostPort(f.address, f.port), `→ ${f.destination}${f.protocol === 'udp' ? ' udp' : ''}`]);
  for (const r of input.reverse ?? []) rows.push([r.from, `→ ${r.to} (${r.mode})`]);
  if (input.socks) rows.push([formatHostPort(input.socks.address, input.socks.port), `SOCKS5${input.socks.auth ? ' (user/password)' : ''}: any host the cluster can reach, TCP and UDP`]);
  const width = Math.max(...rows.map(([left]) => left.length));
  const lines = rows.map(([left, right]) => `  ${c.bold(left.padEnd(width))}  ${right}`);
  lines.push(c.dim(`  from context ${input.context}, namespace ${input.namespace}`));
  if (input.socks) {
    const proxy = formatHostPort(input.socks.address === '0.0.0.0' || input.socks.address === '::' ? '127.0.0.1' : input.socks.address, input.socks.port);
    lines.push(c.dim(`  curl --socks5-hostname ${proxy} http://<service>.<namespace>/   ·   chromium --proxy-server=socks5://${proxy}`));
  }
  lines.push(c.dim('  Ctrl-C to stop'));
  return lines.join('\n');
}
