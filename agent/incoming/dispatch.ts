/**
 * What happens to one redirected connection, by the subscription that holds its port: mirror,
 * steal whole, or filtered steal (HTTP/1 or HTTP/2 by the first bytes; anything else goes to the
 * original app untouched, since the filter cannot look inside it).
 */
import type { Socket } from 'node:net';
import type { AgentLog } from '../log.ts';
import type { Subscription } from './subscription.ts';
import type { HttpFilter, RequestFacts } from './http-filter.ts';
import { filterHttp1, type Place } from './http1-filter.ts';
import { filterHttp2 } from './http2-filter.ts';
import { mirrorConnection } from './mirror.ts';
import { passThrough } from './original-app.ts';
import { describeRedirected } from './redirected.ts';
import { sniffProtocol } from './sniff.ts';
import { stealConnection } from './steal.ts';

export function dispatchConnection(socket: Socket, port: number, sub: Subscription | undefined, log: AgentLog): void {
  if (!sub || !sub.active || sub.session.closed) {
    passThrough(socket, port);
    return;
  }
  const conn = describeRedirected(socket, port, sub.session, log);
  if (sub.mode === 'mirror' && sub.stats) {
    mirrorConnection(conn, sub.stats);
    return;
  }
  const filter = sub.filter;
  if (!filter || !filter.appliesTo(port)) {
    stealConnection(conn);
    return;
  }
  const route = router(sub, filter);
  sniffProtocol(socket, (protocol, head) => {
    log.debug('filtered connection', { port, protocol });
    if (protocol === 'http1') filterHttp1(conn, (h) => route({ target: h.target, headers: h.headers }), head);
    else if (protocol === 'http2') filterHttp2(conn, route, head);
    else {
      passThrough(socket, port, head);
      socket.resume();
    }
  });
}

/**
 * Routes by the filter while the subscription lasts. After unsubscribe, or once its session is
 * gone, every further request on a connection it served goes to the original app: so the steal
 * ends for keep-alive connections too, at their next request.
 */
function router(sub: Subscription, filter: HttpFilter): (facts: RequestFacts) => Place {
  return (facts) => (sub.active && !sub.session.closed && filter.matches(facts) ? 'userApp' : 'originalApp');
}
