/**
 * The sandbox API server as one object: store, registry, HTTPS listener and controllers. The daemon
 * starts it with the real node; tests may start it with a fake one.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KObject, SandboxNode } from '../contract.ts';
import { resourceByPlural } from './resources.ts';
import { startControllers } from '../controllers/index.ts';
import { bootstrap } from './bootstrap.ts';
import { Metrics } from './metrics.ts';
import type { Pki } from './pki.ts';
import { Registry } from './registry.ts';
import { ApiServer } from './server.ts';
import { ObjectStore } from './store.ts';
import { ServiceAccountTokens } from './service-accounts.ts';
import { syncCustomResources } from './custom-resources.ts';

export { SERVICE_CIDR, POD_CIDR, POD_CIDR_V6, NODE_NAME } from './constants.ts';

/** How to start the API server. */
export interface StartOptions {
  pki: Pki;
  /** Bearer token → user. */
  tokens: Map<string, string>;
  rbacPath: string;
  logPath?: string;
  /** 0 picks a free port. When the port is taken, a free one is used instead. */
  port: number;
  /** Called with the store before the server listens (the node's `start`). */
  node?: SandboxNode;
  /** Watch history length (tests make it small to reach 410 Gone quickly). */
  watchHistory?: number;
}

/** A listening API server and its parts. */
export interface RunningApiServer {
  url: string;
  port: number;
  store: ObjectStore;
  registry: Registry;
  metrics: Metrics;
  /** What issues and checks ServiceAccount tokens (the kubelet's TokenRequest). */
  serviceAccountTokens: ServiceAccountTokens;
  /** Stops the controllers and the listener (not the node). */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Pods reach the API server as in a cluster: the `kubernetes` Service (10.96.0.1:443) has one
 * endpoint, the node's address on the pod network, where a second listener serves the same API.
 * Nothing outside the machine reaches that address (the pod bridge).
 */
async function listenForPods(opts: StartOptions, api: ApiServer, port: number, registry: Registry): Promise<Server | undefined> {
  const host = opts.node?.podFacingAddress?.();
  if (!host) return undefined;
  const server = createServer({ cert: opts.pki.cert, key: opts.pki.key }, api.handleRequest);
  server.on('upgrade', api.handleUpgrade);
  const podPort = await listen(server, port, host);
  registry.create(resourceByPlural('endpoints')!, 'default', {
    apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: host }], ports: [{ name: 'https', port: podPort, protocol: 'TCP' }] }],
  } as unknown as KObject);
  return server;
}

/** Bootstraps a store, starts the node (if any), the controllers and the HTTPS listener. */
export async function startApiServer(opts: StartOptions): Promise<RunningApiServer> {
  const store = new ObjectStore(opts.watchHistory);
  const registry = new Registry(store);
  bootstrap(registry);
  const serviceAccountTokens = new ServiceAccountTokens(store);
  // Types defined by CRDs are served from the request after the CRD's write on.
  store.watch('customresourcedefinitions', () => syncCustomResources(store));
  if (opts.node) await opts.node.start(store, serviceAccountTokens);
  const stopControllers = startControllers({ store, registry, caCert: opts.pki.caCert.toString('utf8') });
  const metrics = new Metrics();
  let address = '';
  const api = new ApiServer({ store, registry, node: opts.node, tokens: opts.tokens, serviceAccountTokens, rbacPath: opts.rbacPath, logPath: opts.logPath, metrics, serverAddress: () => address });
  const server = createServer({ cert: opts.pki.cert, key: opts.pki.key }, api.handleRequest);
  server.on('upgrade', api.handleUpgrade);
  let port: number;
  try {
    port = await listen(server, opts.port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || opts.port === 0) throw err;
    port = await listen(server, 0);
  }
  address = `127.0.0.1:${port}`;
  const podServer = await listenForPods(opts, api, port, registry);
  return {
    url: `https://127.0.0.1:${port}`, port, store, registry, metrics, serviceAccountTokens,
    close: () => new Promise<void>((resolve) => {
      stopControllers();
      server.closeAllConnections();
      podServer?.closeAllConnections();
      podServer?.close();
      server.close(() => resolve());
    }),
  };
}
