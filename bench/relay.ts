/**
 * A plain TCP relay, the baseline the session is measured against: what two Node processes piping
 * bytes can do. `node bench/relay.ts --to PORT [--to-host HOST]` listens on 127.0.0.1:0 and pipes
 * every connection to HOST:PORT (default 127.0.0.1). Prints {"event":"listening","port"}.
 */
import { connect, createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { to: { type: 'string' }, 'to-host': { type: 'string', default: '127.0.0.1' } } });
const to = Number(values.to);
const server = createServer({ noDelay: true, allowHalfOpen: true }, (inbound) => {
  const outbound = connect({ port: to, host: values['to-host'], noDelay: true, allowHalfOpen: true });
  inbound.pipe(outbound);
  outbound.pipe(inbound);
  inbound.on('error', () => outbound.destroy());
  outbound.on('error', () => inbound.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
