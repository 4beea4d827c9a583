/**
 * The CLI side of the benchmark: a process holding one session to an agent process, driving it the
 * way the product does. The token comes in MIRRORD_BENCH_TOKEN (hex).
 *
 *   forward  --agent P --to Q           -L style: listen on 127.0.0.1:0, one stream per connection to 127.0.0.1:Q
 *   latency  --agent P --echo Q --count N   open + 1-byte echo, N times in a row
 *   fairness --agent P --echo Q --sink S --bulk B --count N   echo round trips while B bulk streams run
 *   memory   --agent P --sink S --stall-sink T --bytes N      N bytes to a receiver that stalls, and
 *                                                             a second stream that must keep flowing
 * Prints JSON lines: {"event":"listening","port"} for forward, {"event":"result",...} for the others.
 */
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Session } from '../src/session/session.ts';
import type { MuxStream } from '../src/session/stream.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    agent: { type: 'string' }, to: { type: 'string' }, echo: { type: 'string' }, sink: { type: 'string' },
    'stall-sink': { type: 'string' }, bulk: { type: 'string', default: '4' }, count: { type: 'string', default: '1000' },
    bytes: { type: 'string', default: String(1 << 30) },
  },
});
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const localhost = '127.0.0.1';

async function openSession(): Promise<Session> {
  const socket = connect({ port: Number(values.agent), host: localhost, noDelay: true });
  await once(socket, 'connect');
  return Session.connect(socket, { token: process.env.MIRRORD_BENCH_TOKEN ?? '', client: 'bench' });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One byte out, one byte back, on an open stream or socket; resolves with the round trip in ms. */
function roundTrip(conn: MuxStream | Socket): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const onData = () => {
      conn.off('error', onError);
      resolve(performance.now() - t0);
    };
    const onError = (err: Error) => {
      conn.off('data', onData);
      reject(err);
    };
    conn.once('data', onData);
    conn.once('error', onError);
    conn.write('x');
  });
}

async function forward(session: Session): Promise<void> {
  const to = Number(values.to);
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    const stream = session.openStream({ host: localhost, port: to });
    socket.pipe(stream);
    stream.pipe(socket);
    socket.on('error', () => stream.destroy());
    stream.on('error', () => socket.destroy());
  });
  server.listen(0, localhost, () => {
    const address = server.address();
    say({ event: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
  });
}

async function latency(session: Session): Promise<void> {
  const count = Number(values.count);
  const echoPort = Number(values.echo);
  const samples: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const stream = session.openStream({ host: localhost, port: echoPort });
    await roundTrip(stream);
    samples.push(performance.now() - t0);
    stream.destroy();
    const t1 = performance.now();
    const socket = connect({ port: echoPort, host: localhost, noDelay: true });
    await roundTrip(socket);
    direct.push(performance.now() - t1);
    socket.destroy();
  }
  samples.sort((a, b) => a - b);
  direct.sort((a, b) => a - b);
  say({
    event: 'result', p50: percentile(samples, 50), p99: percentile(samples, 99),
    directP50: percentile(direct, 50), directP99: percentile(direct, 99),
  });
}

async function fairness(session: Session): Promise<void> {
  const count = Number(values.count);
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  const bulk = Array.from({ length: Number(values.bulk) }, () => session.openStream({ host: localhost, port: Number(values.sink) }));
  let bulkBytes = 0;
  let running = true;
  for (const stream of bulk) {
    stream.on('error', () => {});
    const pump = () => {
      while (running) {
        bulkBytes += chunk.length;
        if (!stream.write(chunk)) { stream.once('drain', pump); return; }
      }
    };
    pump();
  }
  const echoStream = session.openStream({ host: localhost, port: Number(values.echo) });
  await roundTrip(echoStream);
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) samples.push(await roundTrip(echoStream));
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  for (const stream of bulk) stream.destroy();
  echoStream.destroy();
  samples.sort((a, b) => a - b);
  say({ event: 'result', p50: percentile(samples, 50), p99: percentile(samples, 99), bulkGBps: bulkBytes / seconds / 1e9 });
}

async function memory(session: Session): Promise<void> {
  const total = Number(values.bytes);
  const chunk = Buffer.alloc(64 * 1024, 0x63);
  const send = (port: number, bytes: number, label: string) => new Promise<void>((resolve, reject) => {
    const stream = session.openStream({ host: localhost, port });
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        left -= chunk.length;
        if (!stream.write(chunk)) { stream.once('drain', pump); return; }
      }
      stream.end();
    };
    stream.on('error', reject);
    stream.resume();
    stream.on('end', () => { say({ event: `${label}-done`, at: Date.now() }); resolve(); });
    pump();
  });
  const stalled = send(Number(values['stall-sink']), total, 'stalled');
  // Give the stalled stream time to fill its window, then run a second stream through the same session.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await send(Number(values.sink), 256 * 1024 * 1024, 'other');
  await stalled;
  say({ event: 'result' });
}

const session = await openSession();
const modes: Record<string, (s: Session) => Promise<void>> = { forward, latency, fairness, memory };
const run = modes[positionals[0]];
if (!run) {
  process.stderr.write(`usage: session-client.ts ${Object.keys(modes).join('|')} ...\n`);
  process.exit(2);
}
await run(session);
if (positionals[0] !== 'forward') {
  await session.close(1000);
  process.exit(0);
}
