/**
 * DNS lookups asked for by the CLI (request dnsLookup). They resolve as the target pod's own
 * processes would, so its search domains and /etc/hosts apply: through the system resolver when
 * the agent shares the pod's resolver files, else with the target's files (dns-target.ts).
 */
import { lookup, lookupService } from 'node:dns/promises';
import { RequestError, ResponseErrorCode } from '../src/protocol/request-errors.ts';
import type { DnsLookupAnswer, DnsLookupBody, DnsReverseAnswer, DnsReverseBody } from '../src/protocol/requests.ts';
import { lookupInTarget, targetResolverFiles } from './dns-target.ts';
import type { TargetProcess } from './target-process.ts';

/** The resolver's codes (getaddrinfo's, as Node names them) in the protocol's terms. */
function answerCode(code: string | undefined): ResponseErrorCode {
  switch (code) {
    case 'ENOTFOUND': case 'ENODATA': case 'EAI_NONAME': case 'EAI_NODATA': return ResponseErrorCode.notFound;
    case 'EAI_AGAIN': return ResponseErrorCode.tryAgain;
    default: return ResponseErrorCode.internal;
  }
}

/** How long the answer to "does the target resolve as the agent does?" is kept, ms. */
const FILES_CHECK_MS = 5_000;

/**
 * Where lookups go: the system resolver when the agent shares the target pod's resolver files (the
 * ephemeral agent, and the targetless one), else the target's files applied by dns-target.ts.
 */
export class PodResolver {
  readonly #target: TargetProcess | undefined;
  #checked: { at: number; files: { resolvConf: string; hosts: string } | undefined } | undefined;

  constructor(target?: TargetProcess) {
    this.#target = target;
  }

  /** dnsLookup. Rejects with a RequestError ENOTFOUND, EAI_AGAIN or EINTERNAL. */
  lookup = async (body: DnsLookupBody): Promise<DnsLookupAnswer> => {
    const files = this.#targetFiles();
    if (!files) return await lookupHost(body);
    try {
      return { addresses: await lookupInTarget(body.host, body.family ?? 0, files) };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new RequestError(answerCode(e.code), `cannot resolve ${body.host} in the cluster (with the target pod's resolv.conf): ${e.code ?? e.message}`);
    }
  };

  #targetFiles(): { resolvConf: string; hosts: string } | undefined {
    if (!this.#target?.targeted) return undefined;
    const now = Date.now();
    if (this.#checked && now - this.#checked.at < FILES_CHECK_MS) return this.#checked.files;
    let files;
    try {
      files = targetResolverFiles(`/proc/${this.#target.current().pid}/root`);
    } catch {
      files = undefined; // the target is gone: resolve as the agent's own pod does
    }
    this.#checked = { at: now, files };
    return files;
  }
}

/** Resolves a checked lookup body with the system resolver. Rejects with a RequestError ENOTFOUND, EAI_AGAIN or EINTERNAL. */
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
