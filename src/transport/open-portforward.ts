/**
 * Opens the one WebSocket to `pods/{pod}/portforward?ports={port}` that carries a whole session.
 * TLS, credentials (client certificates, bearer tokens, exec credential plugins) and the cluster's
 * `proxy-url` all come from `KubeConfig.applyToHTTPSOptions`, which fills in https.RequestOptions
 * (plus a proxy agent when the cluster entry has a proxy-url) that ws accepts as they are.
 */
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { errorFromHttpStatus, errorFromKubeCall } from '../kube-api/api-errors.ts';
import { KubeconfigError } from '../errors.ts';
import { PortForwardError } from './portforward-error.ts';
import { PORTFORWARD_SUBPROTOCOL, portForwardPath } from './portforward-protocol.ts';
import { PortForwardStream } from './portforward-stream.ts';
import type { PortForwardStreamOptions } from './portforward-stream.ts';

export interface PortForwardTarget {
  namespace: string;
  pod: string;
  port: number;
}

export interface OpenPortForwardOptions extends Omit<PortForwardStreamOptions, 'port'> {
  /** Give up on the upgrade after this long, ms. Default 15000. */
  handshakeTimeoutMs?: number;
}

/** The ws:// or wss:// URL of the portforward subresource, keeping any path prefix of the server. */
export function portForwardUrl(server: string, target: PortForwardTarget): URL {
  const base = new URL(server.endsWith('/') ? server : `${server}/`);
  const url = new URL(portForwardPath(target.namespace, target.pod, target.port), base);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  return url;
}

/**
 * Refuses an `http://` API server for the agent link: its WebSocket would be `ws://`, and the
 * session token in the first frame (and everything after it) would cross the network in clear.
 * @throws KubeconfigError EINSECURELINK naming the server and --insecure-agent-link.
 */
export function requireSecureAgentLink(server: string, contextName: string, allowInsecure: boolean): void {
  if (allowInsecure || new URL(server).protocol !== 'http:') return;
  throw new KubeconfigError('EINSECURELINK', `the API server ${server} (context ${contextName}) is plain http://: the agent link would carry the session token in clear over ws://`, {
    hint: 'use an https:// server in the kubeconfig, or pass --insecure-agent-link if this network path is trusted (e.g. kubectl proxy on 127.0.0.1)',
  });
}

/**
 * Opens the tunnel and resolves once the upgrade succeeded. A dial failure inside the pod arrives
 * afterwards on the error channel and destroys the returned stream with `EPORTFORWARD`.
 * @throws a MirrordError: refused upgrade (403 names the missing permission), unreachable API server.
 */
export async function openPortForward(kc: KubeConfig, target: PortForwardTarget, options: OpenPortForwardOptions = {}): Promise<PortForwardStream> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeconfigError('ENOCLUSTER', 'the kubeconfig context names no cluster', { hint: 'check the context with kubectl config view --minify' });
  const url = portForwardUrl(cluster.server, target);
  const requestOptions: WebSocket.ClientOptions = {};
  await kc.applyToHTTPSOptions(requestOptions);
  const action = `create pods/portforward for pod "${target.pod}" in namespace "${target.namespace}"`;
  const ws = new WebSocket(url, [PORTFORWARD_SUBPROTOCOL], {
    ...requestOptions,
    perMessageDeflate: false,
    handshakeTimeout: options.handshakeTimeoutMs ?? 15_000,
    // One session multiplexes everything, so messages can be as large as the session's writes.
    maxPayload: 64 * 1024 * 1024,
    ...(url.protocol === 'wss:' ? { generateMask: zeroMask } : {}),
  });
  return new Promise<PortForwardStream>((resolve, reject) => {
    ws.once('open', () => {
      ws.removeAllListeners('error');
      ws.removeAllListeners('unexpected-response');
      // An empty protocol means the server ignored the offer; servers then speak the binary channel
      // protocol anyway (wsstream treats "no subprotocol" as channel.k8s.io).
      if (ws.protocol !== '' && ws.protocol !== PORTFORWARD_SUBPROTOCOL) {
        ws.terminate();
        reject(new PortForwardError('EUPGRADE', `the API server chose the unsupported subprotocol '${ws.protocol}'`));
        return;
      }
      // Wrap synchronously, inside 'open': bytes that came with the upgrade response are emitted on
      // the next tick, before any promise continuation could attach a listener.
      resolve(new PortForwardStream(ws, { ...options, port: target.port }));
    });
    ws.once('error', (err) => reject(errorFromKubeCall(err, action, cluster.server)));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      readBody(res).then((body) => {
        ws.terminate();
        reject(errorFromHttpStatus(res.statusCode ?? 0, body, action));
      }, reject);
    });
  });
}

/**
 * Client frames must be masked (RFC 6455 section 5.3). The mask exists to stop attacker-chosen
 * bytes from looking like HTTP to a proxy or cache that reads the plain-text stream (section 10.3).
 * Inside TLS no intermediary can read the frames, so the mask protects nothing there, while
 * applying a random one costs a byte-by-byte XOR in JavaScript on both ends: measured here, 61 MB/s
 * with random masks against 505 MB/s with a zero mask (which ws and kube-apiserver then skip).
 * So over wss:// the key is all zeros; over plain ws:// it stays random.
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
