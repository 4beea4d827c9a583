/**
 * Test support: the real agent (agent/server.ts) on 127.0.0.1 and a SessionSource connected to it
 * over TCP, so forwarder and SOCKS tests run the whole path except the cluster.
 */
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { AgentServer } from '../../agent/server.ts';
import { silentLog } from '../../agent/log.ts';
import { Session } from '../../src/session/session.ts';
import type { SessionSource } from '../../src/link/session-source.ts';

export interface TestAgent {
  source: SessionSource;
  /** Sessions made so far. */
  sessions: Session[];
  close(): Promise<void>;
}

export async function startTestAgent(): Promise<TestAgent> {
  const token = randomBytes(32);
  const agent = new AgentServer({
    host: '127.0.0.1',
    port: 0,
    tokenSha256: createHash('sha256').update(token).digest(),
    // Short: AgentServer re-arms its idle timer when a session closes during close(), and a long
    // timer would keep the test process alive after the test.
    idleTimeoutMs: 1_000,
    log: silentLog,
    onIdle: () => {},
  });
  const { port } = await agent.listen();
  const sessions: Session[] = [];
  let current: Promise<Session> | undefined;
  const connect = async () => {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const session = await Session.connect(socket, { token });
    sessions.push(session);
    return session;
  };
  return {
    sessions,
    source: {
      session: () => (current ??= connect()),
    },
    close: async () => {
      for (const s of sessions) s.destroy();
      await agent.close();
    },
  };
}
