/**
 * WebSocket upgrades of pods/portforward and pods/exec: the checks kube-apiserver makes before it
 * proxies to the kubelet (the pod exists, is on a node, runs), then the session itself.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { EXEC_PROTOCOLS, parseExecOptions, serveExec } from './exec.ts';
import { parsePorts, PORT_FORWARD_PROTOCOLS, servePortForward, type PodDialer } from './portforward.ts';
import { SPDY_PORT_FORWARD_PROTOCOL, SpdyPortForward } from './spdy-portforward.ts';
import type { RequestContext } from './server.ts';
import { ApiError, badRequest, notFound } from './status.ts';
import { podContainer } from './pod-container.ts';

function offeredProtocols(req: IncomingMessage): string[] {
  return (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
}

/**
 * Picks the subprotocol: the first one offered that the sandbox speaks; none offered means the
 * plain v4 channel protocol. Offering only others (kubectl's SPDY-over-WebSocket tunnel) is refused
 * with 400 so that the client falls back, as an upgrade failure lets client-go do.
 */
function chooseProtocol(req: IncomingMessage, supported: string[]): string | undefined {
  const offered = offeredProtocols(req);
  if (offered.length === 0) return undefined;
  const chosen = offered.find((p) => supported.includes(p));
  if (!chosen) throw badRequest(`unable to upgrade: none of the requested subprotocols ${JSON.stringify(offered)} is supported; supported: ${supported.join(', ')}`);
  return chosen;
}

/** Completes the upgrade and starts the session; resolves to the status code for metrics. */
export async function handleUpgrade(ctx: RequestContext, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<number> {
  const { info, opts } = ctx;
  const sub = info.subresource;
  if (!info.isResourceRequest || info.resource !== 'pods' || !info.name || !info.namespace || (sub !== 'portforward' && sub !== 'exec')) {
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  }
  const pod = opts.store.get('pods', info.namespace, info.name);
  if (!pod) throw notFound('pods', info.name);
  if (!opts.node) throw badRequest(`pod ${info.name} does not have a host assigned`);
  const node = opts.node;
  const phase = pod.status?.phase;
  if (sub === 'exec') {
    if (phase === 'Succeeded' || phase === 'Failed') throw badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
    if (!node.exec) throw badRequest('exec is not supported by the sandbox node');
    // Like kube-apiserver, the container is checked before the upgrade (400), ephemeral ones included.
    const execOpts = { ...parseExecOptions(ctx.url.searchParams), container: podContainer(pod, ctx.url.searchParams.get('container')) };
    chooseProtocol(req, EXEC_PROTOCOLS);
    wss.handleUpgrade(req, socket, head, (ws) => serveExec(ws, node, info.namespace!, info.name!, execOpts));
    return 101;
  }
  if (phase !== 'Running') throw badRequest(`pod ${info.name} is not running (phase ${phase ?? 'Unknown'}); port-forward needs a running pod`);
  const dial: PodDialer = (port) => node.dialPod(info.namespace!, info.name!, port);
  if ((req.headers.upgrade ?? '').toLowerCase() === 'spdy/3.1') return upgradeSpdy(req, socket, head, dial);
  chooseProtocol(req, PORT_FORWARD_PROTOCOLS);
  const ports = parsePorts(ctx.url.searchParams);
  wss.handleUpgrade(req, socket, head, (ws) => servePortForward(ws, ports, dial));
  return 101;
}

/** The SPDY/3.1 upgrade kubectl port-forward falls back to (pkg/util/httpstream/spdy/upgrade.go). */
function upgradeSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, dial: PodDialer): number {
  const versions = String(req.headers['x-stream-protocol-version'] ?? '').split(',').map((v) => v.trim());
  if (!versions.includes(SPDY_PORT_FORWARD_PROTOCOL)) {
    throw badRequest(`unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(versions)}, server supports ["${SPDY_PORT_FORWARD_PROTOCOL}"]`);
  }
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${SPDY_PORT_FORWARD_PROTOCOL}\r\n\r\n`);
  new SpdyPortForward(socket, dial).start(head);
  return 101;
}
