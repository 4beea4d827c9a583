/** Checks the body of a portSubscribe request (docs/protocol.md, "Incoming traffic"). */
import { RequestError } from '../../src/session/session.ts';
import { FilterSpecError, HttpFilter, type HttpFilterSpec } from './http-filter.ts';

export type IncomingMode = 'steal' | 'mirror';

/** A checked subscription request. */
export interface SubscribeRequest {
  port: number;
  mode: IncomingMode;
  /** Only for steal; undefined steals every connection. */
  filter: HttpFilter | undefined;
}

/** Parses the body. Throws RequestError EINVAL naming the field and what is accepted. */
export function parseSubscribeRequest(body: unknown): SubscribeRequest {
  const { port, mode, filter } = (body ?? {}) as { port?: unknown; mode?: unknown; filter?: unknown };
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RequestError('EINVAL', `port must be a TCP port (1-65535), got ${JSON.stringify(port)}`);
  }
  if (mode !== 'steal' && mode !== 'mirror') {
    throw new RequestError('EINVAL', `mode must be "steal" or "mirror", got ${JSON.stringify(mode)}`);
  }
  if (filter === undefined || filter === null) return { port, mode, filter: undefined };
  if (mode !== 'steal') {
    throw new RequestError('EINVAL', 'filter only applies to mode "steal"; mirror copies every connection');
  }
  if (typeof filter !== 'object' || Array.isArray(filter)) {
    throw new RequestError('EINVAL', `filter must be an object {header?, path?, ports?}, got ${JSON.stringify(filter)}`);
  }
  const unknown = Object.keys(filter).filter((k) => !['header', 'path', 'ports'].includes(k));
  if (unknown.length > 0) {
    throw new RequestError('EINVAL', `filter has unknown field ${unknown.map((k) => `filter.${k}`).join(', ')}; accepted: header, path, ports`);
  }
  try {
    return { port, mode, filter: new HttpFilter(filter as HttpFilterSpec) };
  } catch (err) {
    if (err instanceof FilterSpecError) throw new RequestError('EINVAL', err.message);
    throw err;
  }
}

/** Parses a portUnsubscribe body: {subscription}. */
export function parseUnsubscribeRequest(body: unknown): number {
  const { subscription } = (body ?? {}) as { subscription?: unknown };
  if (typeof subscription !== 'number' || !Number.isInteger(subscription) || subscription < 1) {
    throw new RequestError('EINVAL', `subscription must be the number a portSubscribe answered, got ${JSON.stringify(subscription)}`);
  }
  return subscription;
}
