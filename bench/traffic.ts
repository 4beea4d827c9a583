/**
 * Traffic endpoints for the benchmark, each run as its own process so that the paths compared all
 * cross the same number of process boundaries.
 *
 *   node bench/traffic.ts sink [--stall-ms N --stall-after BYTES]
 *       Listens on 127.0.0.1:0 and reads everything. Prints {"event":"listening","port"} once, then
 *       {"event":"done","bytes","startMs","endMs"} per connection (times on this process's clock).
 *       With --stall-ms, each connection stops reading for N ms after BYTES bytes.
 *   node bench/traffic.ts echo
 *       Listens on 127.0.0.1:0 and echoes every connection.
 *   node bench/traffic.ts send --port P --bytes N [--connections C] [--host H] [--socks S:P]
 *       Opens C connections to H:P (default 127.0.0.1), writes N bytes spread over them, ends, and
 *       waits for the receiver to close: {"event":"sent","bytes","ms"}. With --socks, each
 *       connection goes through that SOCKS5 server (RFC 1928 CONNECT, no authentication).
 *   node bench/traffic.ts latency --port P [--host H] [--socks S:P] --count N
 *       N times in a row: connect, send one byte, wait for it to come back, close.
 *       Prints {"event":"latency","p50","p99"} in milliseconds.
 *   node bench/traffic.ts source --bytes N
 *       Listens; writes N bytes to every connection that opens, then ends it.
 *   node bench/traffic.ts recv --port P [--host H]
 *       Connects, reads until the server ends: {"event":"received","bytes","ms"} (a download).
 *   node bench/traffic.ts pingpong --port P [--host H] [--connections C] [--count N] [--size S]
 *       C connections to an echo server, each doing N round trips of S bytes (default 64), one at a
 *       time, like a database client's small queries: {"event":"pingpong","roundTrips","ms"}.
 * Servers listen on --listen-host (default 127.0.0.1) and --listen-port (default 0: any free port).
 */
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    bytes: { type: 'string' },
    connections: { type: 'string', default: '1' },
    host: { type: 'string', default: '127.0.0.1' },
    socks: { type: 'string' },
    count: { type: 'string', default: '200' },
    'listen-host': { type: 'string', default: '127.0.0.1' },
    'listen-port': { type: 'string', default: '0' },
    'stall-ms': { type: 'string', default: '0' },
    'stall-after': { type: 'string', default: '0' },
    size: { type: 'string', default: '64' },
  },
});

const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

function listen(onSocket: (socket: Socket) => void): void {
  const server = createServer({ noDelay: true }, onSocket);
  server.listen(Number(values['listen-port']), values['listen-host'], () => {
    const address = server.address();
    say({ event: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
  });
}

function sink(stallMs: number, stallAfter: number): void {
  listen((socket) => {
    let bytes = 0;
    let startMs = 0;
    let stalled = false;
    socket.on('data', (chunk: Buffer) => {
      if (bytes === 0) startMs = performance.now();
      bytes += chunk.length;
      if (stallMs > 0 && !stalled && bytes >= stallAfter) {
        stalled = true;
        socket.pause();
        say({ event: 'stalled', bytes, at: Date.now() });
        setTimeout(() => { say({ event: 'resumed', at: Date.now() }); socket.resume(); }, stallMs);
      }
    });
    socket.on('end', () => {
      say({ event: 'done', bytes, startMs, endMs: performance.now() });
      socket.end();
    });
    socket.on('error', () => {});
  });
}

function echo(): void {
  listen((socket) => {
    socket.pipe(socket);
    socket.on('error', () => {});
  });
}

/** Connects to the destination, directly or through a SOCKS5 server (CONNECT with no authentication). */
async function dial(host: string, port: number): Promise<Socket> {
  if (!values.socks) {
    const socket = connect({ port, host, noDelay: true });
    await once(socket, 'connect');
    return socket;
  }
  const [socksHost, socksPort] = values.socks.split(':');
  const socket = connect({ port: Number(socksPort), host: socksHost, noDelay: true });
  await once(socket, 'connect');
  const read = async (n: number): Promise<Buffer> => {
    for (;;) {
      const chunk = socket.read(n) as Buffer | null;
      if (chunk) return chunk;
      await once(socket, 'readable');
    }
  };
  socket.write(Buffer.from([5, 1, 0]));
  const method = await read(2);
  if (method[1] !== 0) throw new Error(`SOCKS server refused "no authentication" (method ${method[1]})`);
  const name = Buffer.from(host);
  const request = Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([port >> 8, port & 0xff])]);
  socket.write(request);
  const reply = await read(4);
  if (reply[1] !== 0) throw new Error(`SOCKS CONNECT failed with reply ${reply[1]}`);
  const rest = reply[3] === 1 ? 4 + 2 : reply[3] === 4 ? 16 + 2 : (await read(1))[0] + 2;
  await read(rest);
  return socket;
}

/** Writes `total` bytes of `chunk` repeated, honouring backpressure, then ends the socket. */
function writeBytes(socket: Socket, total: number, chunk: Buffer): void {
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
}

async function send(host: string, port: number, total: number, connections: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const perConnection = Math.floor(total / connections);
  const one = async () => {
    const socket = await dial(host, port);
    await new Promise<void>((resolve, reject) => {
      socket.resume();
      socket.once('close', (hadError) => hadError ? reject(new Error('connection failed')) : resolve());
      socket.on('error', reject);
      writeBytes(socket, perConnection, chunk);
    });
  };
  const startMs = performance.now();
  await Promise.all(Array.from({ length: connections }, one));
  say({ event: 'sent', bytes: perConnection * connections, ms: performance.now() - startMs });
}

async function latency(host: string, port: number, count: number): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const socket = await dial(host, port);
    socket.write('x');
    await once(socket, 'data');
    samples.push(performance.now() - t0);
    socket.destroy();
  }
  samples.sort((a, b) => a - b);
  const at = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
  say({ event: 'latency', p50: at(50), p99: at(99) });
}

function source(total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  listen((socket) => {
    socket.on('error', () => {});
    socket.resume();
    writeBytes(socket, total, chunk);
  });
}

async function recv(host: string, port: number): Promise<void> {
  const startMs = performance.now();
  const socket = await dial(host, port);
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await once(socket, 'end');
  socket.destroy();
  say({ event: 'received', bytes, ms: performance.now() - startMs });
}

async function pingpong(host: string, port: number, connections: number, count: number, size: number): Promise<void> {
  const message = Buffer.alloc(size, 0x70);
  const one = async () => {
    const socket = await dial(host, port);
    for (let i = 0; i < count; i++) {
      socket.write(message);
      let got = 0;
      while (got < size) {
        const [chunk] = await once(socket, 'data') as [Buffer];
        got += chunk.length;
      }
    }
    socket.destroy();
  };
  const startMs = performance.now();
  await Promise.all(Array.from({ length: connections }, one));
  say({ event: 'pingpong', roundTrips: connections * count, ms: performance.now() - startMs });
}

const mode = positionals[0];
if (mode === 'sink') sink(Number(values['stall-ms']), Number(values['stall-after']));
else if (mode === 'echo') echo();
else if (mode === 'send') await send(values.host, Number(values.port), Number(values.bytes), Number(values.connections));
else if (mode === 'latency') await latency(values.host, Number(values.port), Number(values.count));
else if (mode === 'source') source(Number(values.bytes));
else if (mode === 'recv') await recv(values.host, Number(values.port));
else if (mode === 'pingpong') await pingpong(values.host, Number(values.port), Number(values.connections), Number(values.count), Number(values.size));
else {
  process.stderr.write('usage: traffic.ts sink|echo|source|send|recv|latency|pingpong ...\n');
  process.exit(2);
}
