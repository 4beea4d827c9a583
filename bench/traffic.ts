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
 *   node bench/traffic.ts send --port P --bytes N [--connections C]
 *       Opens C connections to 127.0.0.1:P, writes N bytes spread over them, ends, waits for close.
 */
import { connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    bytes: { type: 'string' },
    connections: { type: 'string', default: '1' },
    'stall-ms': { type: 'string', default: '0' },
    'stall-after': { type: 'string', default: '0' },
  },
});

const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

function listen(onSocket: (socket: Socket) => void): void {
  const server = createServer({ noDelay: true }, onSocket);
  server.listen(0, '127.0.0.1', () => {
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

async function send(port: number, total: number, connections: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const perConnection = Math.floor(total / connections);
  const one = () => new Promise<void>((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    let left = perConnection;
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
    socket.once('connect', pump);
    socket.resume();
    socket.once('close', (hadError) => hadError ? reject(new Error('connection failed')) : resolve());
    socket.on('error', reject);
  });
  const startMs = performance.now();
  await Promise.all(Array.from({ length: connections }, one));
  say({ event: 'sent', bytes: perConnection * connections, ms: performance.now() - startMs });
}

const mode = positionals[0];
if (mode === 'sink') sink(Number(values['stall-ms']), Number(values['stall-after']));
else if (mode === 'echo') echo();
else if (mode === 'send') await send(Number(values.port), Number(values.bytes), Number(values.connections));
else {
  process.stderr.write('usage: traffic.ts sink|echo|send ...\n');
  process.exit(2);
}
