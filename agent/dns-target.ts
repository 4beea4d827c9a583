/**
 * Resolving a name as a process in the TARGET pod would, when the agent does not share that pod's
 * resolver files. The ephemeral agent lives in the target pod, and the kubelet gives every
 * container of a pod the same /etc/resolv.conf and /etc/hosts, so the system resolver (getaddrinfo)
 * already applies the pod's search domains there. The Job agent runs in a pod of its own, maybe in
 * another namespace or with another dnsConfig: its files are not the target's, and `ip-info` would
 * be looked up in the wrong namespace. Then the agent reads the target's files through
 * /proc/<pid>/root and applies them itself:
 *
 * - /etc/hosts first (nsswitch's usual `files dns`), exact match of a name or alias, any case;
 * - then DNS at the target's nameservers, with its search list and `ndots` (resolv.conf(5)): a name
 *   with at least ndots dots is tried as given first, then with each search domain; one with
 *   fewer, the search domains first; a name ending in a dot only as given. The first candidate
 *   with an address wins; NXDOMAIN or no data moves on; a server failure is remembered, so that
 *   running out of candidates is EAI_AGAIN rather than ENOTFOUND (as glibc's res_search does).
 */
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { readFileInRoot } from './files/resolve-in-root.ts';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  ndots: number;
  /** `options timeout:n`, in ms: how long one try waits for a server. */
  timeoutMs: number;
  /** `options attempts:n`: tries per server. */
  attempts: number;
}

/**
 * Parses resolv.conf text (the keywords that matter for lookups; the last `search` wins). The
 * defaults and caps are glibc's (resolv.conf(5); resolv/resolv.h): ndots 1 (at most 15), timeout
 * 5 s (at most 30), attempts 2 (at most 5), so the target's lookups get the patience its own
 * resolver would give them.
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], ndots: 1, timeoutMs: 5_000, attempts: 2 };
  for (const raw of text.split('\n')) {
    const [key, ...rest] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && rest[0] && isIP(rest[0])) conf.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') conf.search = rest.filter(Boolean);
    else if (key === 'options') {
      for (const opt of rest) {
        const m = /^(ndots|timeout|attempts):(\d+)$/.exec(opt);
        if (!m) continue;
        const n = Number(m[2]);
        if (m[1] === 'ndots') conf.ndots = Math.min(n, 15);
        else if (m[1] === 'timeout') conf.timeoutMs = Math.min(Math.max(n, 1), 30) * 1000;
        else conf.attempts = Math.min(Math.max(n, 1), 5);
      }
    }
  }
  return conf;
}

/** The names to try for `host`, in order (see the file comment). */
export function searchCandidates(host: string, conf: ResolvConf): string[] {
  if (host.endsWith('.')) return [host.slice(0, -1)];
  const dots = host.split('.').length - 1;
  const searched = conf.search.map((d) => `${host}.${d.replace(/\.$/, '')}`);
  return dots >= conf.ndots ? [host, ...searched] : [...searched, host];
}

/** Addresses of `host` in hosts-file text, IPv4 and IPv6, in file order. */
export function hostsLookup(text: string, host: string, family: 0 | 4 | 6): string[] {
  const want = host.toLowerCase().replace(/\.$/, '');
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const [addr, ...names] = raw.replace(/#.*$/, '').trim().split(/\s+/);
    const fam = isIP(addr ?? '');
    if (!fam || (family && fam !== family)) continue;
    if (names.some((n) => n.toLowerCase() === want) && !out.includes(addr)) out.push(addr);
  }
  return out;
}

const NO_ANSWER = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'NODATA', 'ENONAME']);

/** A lookup failure: ENOTFOUND (no such name) or EAI_AGAIN (a server failed), as getaddrinfo's codes in Node. */
export class TargetDnsError extends Error {
  readonly code: 'ENOTFOUND' | 'EAI_AGAIN';
  constructor(code: 'ENOTFOUND' | 'EAI_AGAIN', message: string) {
    super(message);
    this.code = code;
  }
}

/** Resolves with the target's resolv.conf and hosts file. */
export async function lookupInTarget(host: string, family: 0 | 4 | 6, files: { resolvConf: string; hosts: string }): Promise<string[]> {
  const fromHosts = hostsLookup(files.hosts, host, family);
  if (fromHosts.length > 0) return fromHosts;
  const conf = parseResolvConf(files.resolvConf);
  const resolver = new Resolver({ timeout: conf.timeoutMs, tries: conf.attempts });
  if (conf.nameservers.length > 0) resolver.setServers(conf.nameservers);
  let serverFailed = false;
  for (const name of searchCandidates(host, conf)) {
    const answers = await Promise.all([family !== 6 ? resolver.resolve4(name) : [], family !== 4 ? resolver.resolve6(name) : []].map((p) =>
      Promise.resolve(p).catch((err: NodeJS.ErrnoException) => {
        if (!NO_ANSWER.has(err.code ?? '')) serverFailed = true;
        return [] as string[];
      })));
    const addresses = answers.flat();
    if (addresses.length > 0) return addresses;
  }
  throw new TargetDnsError(serverFailed ? 'EAI_AGAIN' : 'ENOTFOUND', serverFailed ? 'EAI_AGAIN' : 'ENOTFOUND');
}

/**
 * The target's resolver files when they differ from the agent's own (then the agent must apply
 * them itself), or undefined when the system resolver already resolves as the target would.
 */
export function targetResolverFiles(root: string, own: { resolvConf: string; hosts: string } = ownFiles()): { resolvConf: string; hosts: string } | undefined {
  let resolvConf: string;
  let hosts: string;
  try {
    resolvConf = readFileInRoot(root, '/etc/resolv.conf').toString('utf8');
    hosts = readFileInRoot(root, '/etc/hosts').toString('utf8');
  } catch {
    return undefined;
  }
  return resolvConf === own.resolvConf && hosts === own.hosts ? undefined : { resolvConf, hosts };
}

function ownFiles(): { resolvConf: string; hosts: string } {
  const read = (p: string) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
  return { resolvConf: read('/etc/resolv.conf'), hosts: read('/etc/hosts') };
}
