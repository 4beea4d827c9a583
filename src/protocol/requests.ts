/**
 * Every REQUEST operation: its direction, its body, its answer and the error codes it may answer
 * with. This is the one place a body's shape is written down. The sender builds the typed body; the
 * receiver checks what arrived with the same `checkBody`, and the asker checks the answer with
 * `checkAnswer`, so the CLI and the agent (and later the exec layer) cannot drift apart.
 *
 * docs/protocol.md ("Requests") has the same table in prose; requests.test.ts checks the two agree.
 */
import { isIP } from 'node:net';
import { Capability, RequestOp } from './constants.ts';
import { dirList, fileRead, fileStat, readLink } from './file-requests.ts';
import type { RequestContract } from './request-checks.ts';
import { ResponseErrorCode } from './request-errors.ts';
import { badAnswer, invalid, isCount, isTcpPort, noOtherFields, nullAnswer, record, type Fail } from './request-checks.ts';

export type { Direction, RequestContract } from './request-checks.ts';

// ---- dnsLookup (cli → agent) ----

export interface DnsLookupBody {
  /** A hostname, 1 to 255 characters, resolved as a process in the pod would resolve it. */
  host: string;
  /** Only addresses of this family; both when absent. */
  family?: 4 | 6;
}

export interface DnsLookupAnswer {
  addresses: string[];
}

const dnsLookup: RequestContract<DnsLookupBody, DnsLookupAnswer> = {
  op: RequestOp.dnsLookup,
  name: 'dnsLookup',
  direction: 'cli → agent',
  capability: Capability.dns,
  bodyFields: ['host', 'family?'],
  answerFields: ['addresses'],
  errors: [ResponseErrorCode.invalid, ResponseErrorCode.notFound, ResponseErrorCode.tryAgain],
  checkBody(raw) {
    const { host, family } = (raw ?? {}) as Partial<Record<string, unknown>>;
    if (typeof host !== 'string' || host.length === 0 || host.length > 255) invalid('dns lookup needs a host of 1 to 255 characters');
    if (family !== undefined && family !== 4 && family !== 6) invalid(`dns lookup family must be 4 or 6, got ${String(family)}`);
    return family === undefined ? { host } : { host, family };
  },
  checkAnswer(raw) {
    const fail: Fail = badAnswer('dnsLookup');
    const { addresses } = record(raw, 'the answer', fail);
    if (!Array.isArray(addresses) || addresses.some((a) => typeof a !== 'string')) fail('addresses must be a list of strings');
    return { addresses: addresses as string[] };
  },
};

// ---- portSubscribe / portUnsubscribe (cli → agent) ----

export type IncomingMode = 'steal' | 'mirror';

/** Ports an HTTP filter applies to when the subscription does not say (mirrord's default too). */
export const DEFAULT_HTTP_FILTER_PORTS: readonly number[] = [80, 8080];

/** An HTTP filter of a filtered steal, as the wire carries it. `header` and `path` are regex sources. */
export interface HttpFilterBody {
  header?: string;
  path?: string;
  /** Default DEFAULT_HTTP_FILTER_PORTS. */
  ports?: number[];
}

export interface PortSubscribeBody {
  port: number;
  mode: IncomingMode;
  /** Only with mode steal; without it every connection is stolen. */
  filter?: HttpFilterBody;
}

export interface PortSubscribeAnswer {
  /** Names the subscription in portUnsubscribe. */
  subscription: number;
}

const FILTER_FIELDS = ['header', 'path', 'ports'] as const;

function checkFilter(raw: unknown): HttpFilterBody {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    invalid(`filter must be an object {header?, path?, ports?}, got ${JSON.stringify(raw)}`);
  }
  const obj = raw as Record<string, unknown>;
  noOtherFields(obj, 'filter', FILTER_FIELDS, invalid);
  const filter: HttpFilterBody = {};
  for (const field of ['header', 'path'] as const) {
    const value = obj[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0) invalid(`filter.${field} must be a non-empty regex, got ${JSON.stringify(value)}`);
    filter[field] = value;
  }
  if (filter.header === undefined && filter.path === undefined) {
    invalid('the filter needs a header or a path regex (or leave the filter out to steal everything)');
  }
  if (obj.ports !== undefined) {
    if (!Array.isArray(obj.ports) || !obj.ports.every(isTcpPort)) {
      invalid(`filter.ports must be a list of TCP ports (1-65535), got ${JSON.stringify(obj.ports)}`);
    }
    filter.ports = [...obj.ports];
  }
  return filter;
}

const portSubscribe: RequestContract<PortSubscribeBody, PortSubscribeAnswer> = {
  op: RequestOp.portSubscribe,
  name: 'portSubscribe',
  direction: 'cli → agent',
  capability: Capability.incoming,
  bodyFields: ['port', 'mode', 'filter?'],
  answerFields: ['subscription'],
  errors: [ResponseErrorCode.invalid, ResponseErrorCode.notListening, ResponseErrorCode.notPermitted, ResponseErrorCode.iptables, ResponseErrorCode.exists],
  checkBody(raw) {
    const { port, mode, filter } = (raw ?? {}) as Partial<Record<string, unknown>>;
    if (!isTcpPort(port)) invalid(`port must be a TCP port (1-65535), got ${JSON.stringify(port)}`);
    if (mode !== 'steal' && mode !== 'mirror') invalid(`mode must be "steal" or "mirror", got ${JSON.stringify(mode)}`);
    if (filter === undefined || filter === null) return { port, mode };
    if (mode !== 'steal') invalid('filter only applies to mode "steal"; mirror copies every connection');
    return { port, mode, filter: checkFilter(filter) };
  },
  checkAnswer(raw) {
    const fail: Fail = badAnswer('portSubscribe');
    const { subscription } = record(raw, 'the answer', fail);
    if (!isCount(subscription) || subscription < 1) fail(`subscription must be a positive integer, got ${JSON.stringify(subscription)}`);
    return { subscription };
  },
};

export interface PortUnsubscribeBody {
  /** The number portSubscribe answered. */
  subscription: number;
}

const portUnsubscribe: RequestContract<PortUnsubscribeBody, null> = {
  op: RequestOp.portUnsubscribe,
  name: 'portUnsubscribe',
  direction: 'cli → agent',
  capability: Capability.incoming,
  bodyFields: ['subscription'],
  answerFields: null,
  errors: [ResponseErrorCode.invalid],
  checkBody(raw) {
    const { subscription } = (raw ?? {}) as Partial<Record<string, unknown>>;
    if (!isCount(subscription) || subscription < 1) {
      invalid(`subscription must be the number a portSubscribe answered, got ${JSON.stringify(subscription)}`);
    }
    return { subscription };
  },
  checkAnswer: nullAnswer('portUnsubscribe'),
};

// ---- notice (agent → cli) ----

/** Something the user should know. One kind today; a CLI ignores kinds it does not know. */
export interface MirrorDroppedNotice {
  kind: 'mirrorDropped';
  port: number;
  /** Connections whose copy was dropped so far in this subscription. */
  dropped: number;
  /** Connections mirrored so far in this subscription. */
  total: number;
}

export type NoticeBody = MirrorDroppedNotice | { kind: 'unknown'; name: string };

const notice: RequestContract<NoticeBody, null> = {
  op: RequestOp.notice,
  name: 'notice',
  direction: 'agent → cli',
  capability: 0,
  bodyFields: ['kind', 'port', 'dropped', 'total'],
  answerFields: null,
  errors: [ResponseErrorCode.invalid],
  checkBody(raw) {
    const obj = record(raw, 'a notice', invalid);
    if (typeof obj.kind !== 'string') invalid(`a notice needs a kind, got ${JSON.stringify(obj.kind)}`);
    if (obj.kind !== 'mirrorDropped') return { kind: 'unknown', name: obj.kind };
    const { port, dropped, total } = obj;
    if (!isTcpPort(port)) invalid(`mirrorDropped port must be a TCP port, got ${JSON.stringify(port)}`);
    if (!isCount(dropped) || !isCount(total)) invalid(`mirrorDropped dropped and total must be counts, got ${JSON.stringify({ dropped, total })}`);
    return { kind: 'mirrorDropped', port, dropped, total };
  },
  checkAnswer: nullAnswer('notice'),
};

// ---- targetEnv (cli → agent) ----

/** The target container's main process environment, as /proc/<pid>/environ holds it. */
export interface TargetEnvAnswer {
  env: Record<string, string>;
}

const targetEnv: RequestContract<Record<string, never>, TargetEnvAnswer> = {
  op: RequestOp.targetEnv,
  name: 'targetEnv',
  direction: 'cli → agent',
  capability: Capability.env,
  bodyFields: [],
  answerFields: ['env'],
  errors: [ResponseErrorCode.invalid, ResponseErrorCode.notFound, ResponseErrorCode.notPermitted],
  checkBody(raw) {
    if (raw !== null && raw !== undefined) noOtherFields(record(raw, 'the body of targetEnv', invalid), 'targetEnv', [], invalid);
    return {};
  },
  checkAnswer(raw) {
    const fail: Fail = badAnswer('targetEnv');
    const { env } = record(raw, 'the answer', fail);
    const vars = record(env, 'env', fail);
    for (const [k, v] of Object.entries(vars)) {
      if (k.length === 0 || k.includes('=') || typeof v !== 'string') fail(`env must map names (non-empty, no "=") to strings; ${JSON.stringify(k)} does not`);
    }
    return { env: vars as Record<string, string> };
  },
};

// ---- dnsReverse (cli → agent) ----

export interface DnsReverseBody {
  /** An IPv4 or IPv6 literal. */
  address: string;
}

export interface DnsReverseAnswer {
  /** The first name the cluster's resolver gives for the address. */
  host: string;
}

const dnsReverse: RequestContract<DnsReverseBody, DnsReverseAnswer> = {
  op: RequestOp.dnsReverse,
  name: 'dnsReverse',
  direction: 'cli → agent',
  capability: Capability.dns,
  bodyFields: ['address'],
  answerFields: ['host'],
  errors: [ResponseErrorCode.invalid, ResponseErrorCode.notFound, ResponseErrorCode.tryAgain],
  checkBody(raw) {
    const { address } = record(raw, 'the body of dnsReverse', invalid);
    if (typeof address !== 'string' || !isIP(address)) invalid(`dnsReverse needs an IPv4 or IPv6 address, got ${JSON.stringify(address)}`);
    return { address };
  },
  checkAnswer(raw) {
    const fail: Fail = badAnswer('dnsReverse');
    const { host } = record(raw, 'the answer', fail);
    if (typeof host !== 'string' || host.length === 0) fail(`host must be a non-empty string, got ${JSON.stringify(host)}`);
    return { host };
  },
};

// ---- sessionEnd (cli → agent) ----

/**
 * Sent by a CLI whose command is over, just before its GOAWAY: nothing will reconnect, so the
 * agent exits as soon as no session is left instead of waiting its idle timeout for a reconnect.
 * Needs no capability: an agent that does not know it answers ENOTSUP and keeps its idle timeout.
 */
const sessionEnd: RequestContract<Record<string, never>, null> = {
  op: RequestOp.sessionEnd,
  name: 'sessionEnd',
  direction: 'cli → agent',
  capability: 0,
  bodyFields: [],
  answerFields: null,
  errors: [ResponseErrorCode.invalid],
  checkBody(raw) {
    if (raw !== null && raw !== undefined) noOtherFields(record(raw, 'the body of sessionEnd', invalid), 'sessionEnd', [], invalid);
    return {};
  },
  checkAnswer: nullAnswer('sessionEnd'),
};

/** Every operation's contract, in op order. */
export const Requests = { dnsLookup, portSubscribe, portUnsubscribe, notice, targetEnv, fileStat, fileRead, dirList, readLink, dnsReverse, sessionEnd } as const;

/** The contract of `op`, or undefined for an op this build does not know. */
export function contractFor(op: number): RequestContract<unknown, unknown> | undefined {
  return Object.values(Requests).find((c) => c.op === op) as RequestContract<unknown, unknown> | undefined;
}
