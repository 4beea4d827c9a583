/**
 * Test support: a minimal HTTP server that speaks the pods/portforward WebSocket protocol the way a
 * kubelet behind an API server does (port headers, error channel text, close on error), relaying to a
 * TCP port on 127.0.0.1 with backpressure both ways. Used by the transport's and the agent manager's unit tests.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { PORTFORWARD_SUBPROTOCOL } from '../../src/transport/portforward-protocol.ts';

export interface FakePortForwardOptions {
  /** Where pod port P really is: 127.0.0.1:targetPort(P). */
  targetPort: (podPort: number) => number;
  /** Announce this port in the headers instead of the requested one. */
  announcePort?: number;
  /** Send each port header fused with the first data instead of as its own message. */
  fuseHeaders?: boolean;
  /** Answer the upgrade with this HTTP status and Status message instead. */
  refuse?: { status: number; message: string };
  /** Do not answer pings (to test the client's keepalive). */
  noPong?: boolean;
  /** Answers the plain (not upgraded) API requests, so a test can play the rest of the API server; default 404. */
  rest?: http.RequestListener;
}

export interface FakePortForwardServer {
  url: string;
  /** Upgrades accepted so far. */
  upgrades: number;
  /** The Authorization header of the last upgrade request. */
  authorization: string | undefined;
  close(): Promise<void>;
}

function channelMessage(channel: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([channel]), payload]);
}

function portHeader(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(port);
  return b;
}

function relay(ws: WebSocket, podPort: number, options: FakePortForwardOptions): void {
  const announced = portHeader(options.announcePort ?? podPort);
  let pendingHeader: Buffer | undefined = options.fuseHeaders ? announced : undefined;
  if (!options.fuseHeaders) ws.send(channelMessage(0, announced));
  ws.send(channelMessage(1, announced));
  const socket = net.connect(options.targetPort(podPort), '127.0.0.1');
  socket.on('error', (err) => {
    ws.send(channelMessage(1, Buffer.from(`error forwarding port ${podPort} to pod: ${err.message}`)));
    ws.close(1000);
  });
  socket.on('data', (data: Buffer) => {
    const payload = pendingHeader ? Buffer.concat([pendingHeader, data]) : data;
    pendingHeader = undefined;
    ws.send(channelMessage(0, payload), () => {
      if (ws.bufferedAmount < 1024 * 1024) socket.resume();
    });
    if (ws.bufferedAmount >= 1024 * 1024) socket.pause();
  });
  socket.on('end', () => ws.close(1000));
  ws.on('message', (data: Buffer) => {
    if (data[0] !== 0) return;
    if (!socket.write(data.subarray(1))) {
      ws.pause();
      socket.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => socket.destroy());
}

/** Starts the server on 127.0.0.1 on a free port. */
export async function startFakePortForwardServer(options: FakePortForwardOptions): Promise<FakePortForwardServer> {
  const wss = new WebSocketServer({
    noServer: true,
    autoPong: !options.noPong,
    handleProtocols: (protocols) => (protocols.has(PORTFORWARD_SUBPROTOCOL) ? PORTFORWARD_SUBPROTOCOL : false),
  });
  const server = http.createServer(options.rest ?? ((_req, res) => res.writeHead(404).end()));
  const state: { upgrades: number; authorization: string | undefined } = { upgrades: 0, authorization: undefined };
  server.on('upgrade', (req, socket, head) => {
    state.authorization = req.headers.authorization;
    const url = new URL(req.url ?? '/', 'http://x');
    const match = /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+\/portforward$/.exec(url.pathname);
    const port = Number(url.searchParams.get('ports'));
    if (options.refuse || !match || !port) {
      const { status, message } = options.refuse ?? { status: 404, message: 'the server could not find the requested resource' };
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code: status });
      socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    state.upgrades++;
    wss.handleUpgrade(req, socket, head, (ws) => relay(ws, port, options));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get upgrades() {
      return state.upgrades;
    },
    get authorization() {
      return state.authorization;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
