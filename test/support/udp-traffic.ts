/**
 * UDP traffic for the e2e tests and the benchmark: numbered datagrams with a bounded number in
 * flight (every answer checked against what was sent), and an unpaced blast. Each datagram starts
 * with its sequence number (u32), so an answer names the datagram it answers.
 */
import dgram from 'node:dgram';

export interface PingPongResult {
  sent: number;
  answered: number;
  /** Round trips in ms, in the order the answers came. */
  rttMs: number[];
  elapsedMs: number;
  /** Answers whose bytes were not those sent under that number. */
  corrupt: number;
}

function datagram(seq: number, size: number): Buffer {
  const buf = Buffer.alloc(Math.max(size, 8));
  buf.writeUInt32BE(seq, 0);
  // The rest is a pattern of the sequence number, so a mixed-up answer is caught.
  for (let i = 4; i < buf.length; i++) buf[i] = (seq * 31 + i) & 0xff;
  return buf;
}

async function openSocket(host: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  return socket;
}

/**
 * Sends `count` distinct datagrams of `size` bytes to `host:port`, never more than `inFlight`
 * unanswered, and waits for every answer (an echo). Gives up waiting `idleTimeoutMs` after the last
 * answer: what is missing by then counts as lost.
 */
export async function pingPong(host: string, port: number, count: number, size: number, inFlight: number, idleTimeoutMs = 3000): Promise<PingPongResult> {
  const socket = await openSocket(host);
  const sentAt = new Map<number, number>();
  const rttMs: number[] = [];
  let next = 0;
  let answered = 0;
  let corrupt = 0;
  const started = performance.now();
  try {
    await new Promise<void>((resolve) => {
      let timer = setTimeout(resolve, idleTimeoutMs);
      const sendNext = () => {
        const seq = next++;
        sentAt.set(seq, performance.now());
        socket.send(datagram(seq, size), port, host);
      };
      socket.on('message', (msg: Buffer) => {
        const seq = msg.length >= 4 ? msg.readUInt32BE(0) : -1;
        const at = sentAt.get(seq);
        if (at === undefined) return;
        sentAt.delete(seq);
        if (!msg.equals(datagram(seq, size))) corrupt++;
        rttMs.push(performance.now() - at);
        answered++;
        clearTimeout(timer);
        if (answered === count) return resolve();
        timer = setTimeout(resolve, idleTimeoutMs);
        if (next < count) sendNext();
      });
      for (let i = 0; i < Math.min(inFlight, count); i++) sendNext();
    });
  } finally {
    socket.close();
  }
  return { sent: next, answered, rttMs, elapsedMs: performance.now() - started, corrupt };
}

export interface BlastResult {
  sent: number;
  answered: number;
  elapsedMs: number;
}

/**
 * Sends `count` datagrams of `size` bytes as fast as the socket takes them (no pacing: each send
 * waits only for the previous one to leave the process), then counts answers until none came for
 * `quietMs`.
 */
export async function blast(host: string, port: number, count: number, size: number, quietMs = 2000): Promise<BlastResult> {
  const socket = await openSocket(host);
  socket.setRecvBufferSize(4 * 1024 * 1024);
  let answered = 0;
  socket.on('message', () => { answered++; });
  const started = performance.now();
  try {
    for (let seq = 0; seq < count; seq++) {
      await new Promise<void>((resolve) => socket.send(datagram(seq, size), port, host, () => resolve()));
    }
    let before = -1;
    while (answered !== before) {
      before = answered;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
  } finally {
    socket.close();
  }
  return { sent: count, answered, elapsedMs: performance.now() - started };
}

/** The p-th percentile (0-100) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
