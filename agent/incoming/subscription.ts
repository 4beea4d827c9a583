/**
 * One session's claim on one port of the pod: what IncomingTraffic keeps per portSubscribe, and what
 * the dispatch of each redirected connection reads.
 */
import type { IncomingMode } from '../../src/protocol/requests.ts';
import type { Session } from '../../src/session/session.ts';
import type { HttpFilter } from './http-filter.ts';
import type { MirrorStats } from './mirror-notices.ts';

export interface Subscription {
  id: number;
  session: Session;
  port: number;
  mode: IncomingMode;
  filter: HttpFilter | undefined;
  /** Counts mirrored connections and drops; only for mode mirror. */
  stats: MirrorStats | undefined;
  /** False once unsubscribed: connections it still serves route new requests to the original app. */
  active: boolean;
}
