/**
 * DNS lookups asked for by the CLI (request dnsLookup). They go through the system resolver, as the
 * pod's own processes would, so search domains and /etc/hosts apply.
 */
import { lookup } from 'node:dns/promises';
import { RequestError, ResponseErrorCode } from '../src/protocol/request-errors.ts';
import type { DnsLookupAnswer, DnsLookupBody } from '../src/protocol/requests.ts';

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
