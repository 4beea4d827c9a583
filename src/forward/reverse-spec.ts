/**
 * `-R remote_port[:local_port]` (mirrord's `port-forward -R`): traffic that reaches the target pod
 * on `remote_port` comes to the user's app on 127.0.0.1:`local_port`. Pure parsing, and the plan
 * of one reverse forward once the mode and filter are known.
 */
import { UsageError } from '../errors.ts';

/** One -R as typed. The user-app port is undefined when only the remote port was given. */
export interface ReverseSpec {
  remotePort: number;
  localPort: number | undefined;
  text: string;
}

export type ReverseMode = 'mirror' | 'steal';

/** Regex sources for a filtered steal (compiled by the agent with flag `i`). */
export interface ReverseFilter {
  header: string | undefined;
  path: string | undefined;
  ports: number[];
}

/** One reverse forward, ready to subscribe. */
export interface ReversePlan {
  remotePort: number;
  /** Port of the user's app on userAppHost. */
  localPort: number;
  /** Where the user's app listens; 127.0.0.1 when not given (-R). */
  userAppHost?: string;
  mode: ReverseMode;
  filter: ReverseFilter | undefined;
}

const ACCEPTED = '-R takes remote_port[:local_port], e.g. -R 80 or -R 80:8080 (ports 1-65535)';

function port(text: string, spec: string): number {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) {
    throw new UsageError('EREVERSESPEC', `invalid -R '${spec}': '${text}' is not a TCP port`, { hint: ACCEPTED });
  }
  return n;
}

/**
 * Parses every -R.
 * @throws UsageError EREVERSESPEC for a malformed spec or a remote port given twice.
 */
export function parseReverseSpecs(texts: string[]): ReverseSpec[] {
  const specs = texts.map((text) => {
    const parts = text.trim().split(':');
    if (parts.length > 2 || parts.some((p) => p === '')) {
      throw new UsageError('EREVERSESPEC', `invalid -R '${text}': expected remote_port[:local_port]`, { hint: ACCEPTED });
    }
    return { remotePort: port(parts[0], text), localPort: parts.length === 2 ? port(parts[1], text) : undefined, text };
  });
  const seen = new Set<number>();
  for (const spec of specs) {
    if (seen.has(spec.remotePort)) {
      throw new UsageError('EREVERSESPEC', `-R names remote port ${spec.remotePort} twice`, { hint: 'each remote port can go to one local port' });
    }
    seen.add(spec.remotePort);
  }
  return specs;
}

/** `(steal, header ^x-user: me$)`: how the summary and logs describe a plan's mode. */
export function describeMode(plan: ReversePlan): string {
  const parts: string[] = [plan.mode];
  if (plan.filter && plan.filter.ports.includes(plan.remotePort)) {
    if (plan.filter.header !== undefined) parts.push(`header ${plan.filter.header}`);
    if (plan.filter.path !== undefined) parts.push(`path ${plan.filter.path}`);
  }
  return parts.join(', ');
}
