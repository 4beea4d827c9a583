/**
 * A session with an agent over one pods/portforward WebSocket: open the tunnel, then run the
 * session handshake over it. The handshake completing is what "the agent is ready" means.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Session } from '../session/session.ts';
import { AgentError, MirrordError } from '../errors.ts';
import { openPortForward } from '../transport/open-portforward.ts';
import type { PortForwardTarget } from '../transport/open-portforward.ts';
import { DEFAULT_AGENT_IMAGE } from '../version.ts';

export interface AgentSessionOptions {
  /** The session token (32 bytes). */
  token: Buffer;
  /** Session keepalive interval, ms. */
  keepaliveMs?: number;
  /** WebSocket ping interval, ms. */
  wsKeepaliveMs?: number;
  client?: string;
}

/**
 * Connects and handshakes.
 * @throws PortForwardError (EPORTFORWARD when nothing listens yet on the agent port), a MirrordError
 *   from the upgrade (EFORBIDDEN, ENOTFOUND when the pod is gone), or AgentError EHANDSHAKE (with the
 *   protocol code: EAUTH, EVERSION) when the agent refused the session.
 */
export async function connectAgentSession(kc: KubeConfig, target: PortForwardTarget, options: AgentSessionOptions): Promise<Session> {
  const stream = await openPortForward(kc, target, { keepaliveMs: options.wsKeepaliveMs });
  // The handshake turns a transport error into a generic ProtocolError; keep the tunnel's own.
  let tunnelError: Error | undefined;
  const onError = (err: Error) => (tunnelError ??= err);
  stream.on('error', onError);
  try {
    const session = await Session.connect(stream, { token: options.token, keepaliveMs: options.keepaliveMs, client: options.client });
    stream.off('error', onError);
    return session;
  } catch (err) {
    stream.destroy();
    if (tunnelError instanceof MirrordError) throw tunnelError;
    const code = (err as { code?: string }).code ?? 'EPROTO';
    throw new AgentError('EHANDSHAKE', `the session handshake with the agent failed (${code}): ${(err as Error).message}`, {
      hint: code === 'EVERSION'
        ? `the agent speaks another protocol version: pass --agent-image ${DEFAULT_AGENT_IMAGE} (the image of this CLI's version), or use the CLI of the agent's version`
        : 'run again with -v for details',
      cause: err,
    });
  }
}
