import type { Session } from '../session/session.ts';

/**
 * Where a user connection gets its session: the AgentLink, which waits while it reconnects.
 * `-L`, SOCKS and (later) the exec proxy take one, so none of them knows about reconnects.
 */
export interface SessionSource {
  session(): Promise<Session>;
}
