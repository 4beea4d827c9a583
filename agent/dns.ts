/**
 * DNS lookups asked for by the CLI. They go through the system resolver, as the pod's own
 * processes would, so search domains and /etc/hosts apply.
 */
import { lookup } from 'node:dns/promises';
import { RequestError } from '../src/session/session.ts';

export interface LookupRequest {
  host: string;
  family?: 4 | 6;
}

/** Resolves a hostname. Rejects with a RequestError whose code is the resolver's (ENOTFOUND, ...). */
export async function lookupHost(body: unknown): Promise<{ addresses: string[] }> {
  const { host, family } = (body ?? {}) as Partial<LookupRequest>;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) {
    throw new RequestError('EINVAL', 'dns lookup needs a host of 1 to 255 characters');
  }
  if (family !== undefined && family !== 4 && family !== 6) {
    throw new RequestError('EINVAL', `dns lookup family must be 4 or 6, got ${String(family)}`);
  }
  try {
    const results = await lookup(host, { all: true, family: family ?? 0 });
    return { addresses: results.map((r) => r.address) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new RequestError(e.code ?? 'EINTERNAL', `cannot resolve ${host} in the cluster: ${e.code ?? e.message}`);
  }
}
