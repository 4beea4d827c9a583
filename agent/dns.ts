/**
 * DNS lookups asked for by the CLI (request dnsLookup). They go through the system resolver, as the
 * pod's own processes would, so search domains and /etc/hosts apply.
 */
import { lookup, lookupService } from 'node:dns/promises';
import { RequestError, ResponseErrorCode } from '../src/protocol/request-errors.ts';
import type { DnsLookupAnswer, DnsLookupBody, DnsReverseAnswer, DnsReverseBody } from '../src/protocol/requests.ts';

/** The resolver's codes (getaddrinfo's, as Node names them) in the protocol's terms. */
function answerCode(code: string | undefined): ResponseErrorCode {
  switch (code) {
    case 'ENOTFOUND': case 'ENODATA': case 'EAI_NONAME': case 'EAI_NODATA': return ResponseErrorCode.notFound;
    case 'EAI_AGAIN': return ResponseErrorCode.tryAgain;
    default: return ResponseErrorCode.internal;
  }
}

/** Resolves a checked lookup body. Rejects with a RequestError ENOTFOUND, EAI_AGAIN or EINTERNAL. */
export async function lookupHost({ host, family }: DnsLookupBody): Promise<DnsLookupAnswer> {
  try {
    const results = await lookup(host, { all: true, family: family ?? 0 });
    return { addresses: results.map((r) => r.address) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new RequestError(answerCode(e.code), `cannot resolve ${host} in the cluster: ${e.code ?? e.message}`);
  }
}

/**
 * Answers dnsReverse through getnameinfo(3) in the pod (lookupService), so /etc/hosts and the
 * cluster's PTR records both apply, as for the pod's own processes. getnameinfo gives the address
 * back in numeric form when no name exists; that is ENOTFOUND here (NI_NAMEREQD's meaning).
 */
export async function reverseLookup({ address }: DnsReverseBody): Promise<DnsReverseAnswer> {
  let hostname: string;
  try {
    ({ hostname } = await lookupService(address, 1));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new RequestError(answerCode(e.code), `cannot resolve ${address} to a name in the cluster: ${e.code ?? e.message}`);
  }
  if (hostname === address || hostname === '' || /^[0-9.]+$|:/.test(hostname)) {
    throw new RequestError(ResponseErrorCode.notFound, `${address} has no name in the cluster (no PTR record and no /etc/hosts entry in the pod)`);
  }
  return { host: hostname };
}
