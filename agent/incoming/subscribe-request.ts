/**
 * A portSubscribe body, checked by its contract (src/protocol/requests.ts), made into what the agent
 * runs: the HTTP filter compiled. Regex syntax is the one check the contract leaves to the agent,
 * since only the agent's regex engine can say.
 */
import { RequestError, ResponseErrorCode } from '../../src/protocol/request-errors.ts';
import { Requests, type IncomingMode, type PortSubscribeBody } from '../../src/protocol/requests.ts';
import { FilterSpecError, HttpFilter } from './http-filter.ts';

/** A checked subscription request. */
export interface SubscribeRequest {
  port: number;
  mode: IncomingMode;
  /** Only for steal; undefined steals every connection. */
  filter: HttpFilter | undefined;
}

/** Compiles a checked body's filter. Throws RequestError EINVAL naming the field and the regex engine's message. */
export function toSubscribeRequest({ port, mode, filter }: PortSubscribeBody): SubscribeRequest {
  if (!filter) return { port, mode, filter: undefined };
  try {
    return { port, mode, filter: new HttpFilter(filter) };
  } catch (err) {
    if (err instanceof FilterSpecError) throw new RequestError(ResponseErrorCode.invalid, err.message);
    throw err;
  }
}

/** Checks a raw body with the contract, then compiles it. Throws RequestError EINVAL. */
export function parseSubscribeRequest(body: unknown): SubscribeRequest {
  return toSubscribeRequest(Requests.portSubscribe.checkBody(body));
}
