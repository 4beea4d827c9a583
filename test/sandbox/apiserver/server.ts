/**
 * The HTTP front of the sandbox API server: authentication (bearer tokens), authorization
 * (rbac.ts), routing of resource and non-resource paths, request logging and metrics. The bodies
 * of the answers come from the registry, watch, discovery, tables and the pod subresources.
 */
import { appendFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { SandboxNode } from '../contract.ts';
import { apiGroup, apiGroupList, apiVersions, resourceList, versionInfo } from './discovery.ts';
import { readBody, rejectUpgrade, sendError, sendJson } from './http-util.ts';
import { metricVerb, type Metrics } from './metrics.ts';
import { serveOpenApi } from './openapi.ts';
import { isAllowed, forbiddenError, type AccessAttributes } from './rbac.ts';
import type { Registry } from './registry.ts';
import { parseRequestInfo, type RequestInfo } from './request-info.ts';
import { handleResource } from './resource-handler.ts';
import { findResource } from './resources.ts';
import { ApiError, unauthorized } from './status.ts';
import type { ObjectStore } from './store.ts';
import type { ServiceAccountTokens } from './service-accounts.ts';
import { handleUpgrade } from './upgrade-handler.ts';

/** What the HTTP front needs. */
export interface ApiServerOptions {
  store: ObjectStore;
  registry: Registry;
  /** The kubelet half; absent in tests that run the API server alone. */
  node?: SandboxNode;
  /** Bearer token → user name. */
  tokens: Map<string, string>;
  /** Checks ServiceAccount tokens (service-accounts.ts). */
  serviceAccountTokens?: ServiceAccountTokens;
  rbacPath: string;
  /** One line per request is appended here when set. */
  logPath?: string;
  metrics: Metrics;
  /** `host:port` as published in /api's serverAddressByClientCIDRs. */
  serverAddress: () => string;
}

/** What every handler gets about the request. */
export interface RequestContext {
  user: string;
  url: URL;
  info: RequestInfo;
  opts: ApiServerOptions;
}

const UNAUTHENTICATED_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);

function notFoundPath(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** Kube-apiserver's front: `handleRequest` for the https server, `handleUpgrade` for its upgrades. */
export class ApiServer {
  private readonly opts: ApiServerOptions;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => [...protocols][0] ?? false });

  constructor(opts: ApiServerOptions) {
    this.opts = opts;
  }

  readonly handleRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'https://sandbox');
    const info = parseRequestInfo(req.method ?? 'GET', url);
    let user = '-';
    const finish = (code: number): void => this.record(req, info, user, code, started);
    res.on('close', () => finish(res.statusCode));
    this.authenticate(req, url)
      .then(async (who) => {
        user = who;
        await this.route({ user, url, info, opts: this.opts }, req, res);
      })
      .catch((err) => sendError(res, err));
  };

  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'https://sandbox');
    const info = parseRequestInfo(req.method ?? 'GET', url);
    let user = '-';
    socket.on('error', () => socket.destroy());
    this.authenticate(req, url)
      .then((who) => {
        user = who;
        const ctx = { user, url, info, opts: this.opts };
        // Connect requests are authorized as `create` on the subresource, as Kubernetes 1.35 does for
        // WebSocket upgrades (earlier versions asked for `get`); rbac.json denies by verb.
        this.authorize(ctx, { ...this.attributes(ctx), verb: 'create' });
        return handleUpgrade(ctx, this.wss, req, socket, head);
      })
      .then((code) => this.record(req, info, user, code, started))
      .catch((err) => this.record(req, info, user, rejectUpgrade(socket, err), started));
  };

  private async authenticate(req: IncomingMessage, url: URL): Promise<string> {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const user = this.opts.tokens.get(token) ?? (token ? this.opts.serviceAccountTokens?.authenticate(token) : undefined);
    if (user) return user;
    if (UNAUTHENTICATED_PATHS.has(url.pathname)) return 'system:anonymous';
    throw unauthorized();
  }

  private attributes(ctx: RequestContext): AccessAttributes {
    const { info } = ctx;
    return { user: ctx.user, verb: info.verb, group: info.group, resource: info.resource, subresource: info.subresource, namespace: info.namespace, name: info.name };
  }

  private authorize(ctx: RequestContext, attrs: AccessAttributes): void {
    if (!isAllowed(this.opts.rbacPath, attrs, this.opts.store)) throw forbiddenError(attrs);
  }

  private async route(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = ctx.url.pathname.replace(/\/+$/, '') || '/';
    if (!ctx.info.isResourceRequest) {
      await this.routeNonResource(ctx, path, req, res);
      return;
    }
    const resource = findResource(ctx.info.group, ctx.info.resource);
    if (!resource || resource.version !== ctx.info.version) throw notFoundPath();
    this.authorize(ctx, this.attributes(ctx));
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method ?? '') ? await readBody(req) : undefined;
    await handleResource(ctx, resource, req, res, body);
  }

  private async routeNonResource(ctx: RequestContext, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.opts.metrics.render());
      return;
    }
    if (path.startsWith('/openapi/')) {
      serveOpenApi(path, ctx.url, res, String(req.headers.accept ?? ''));
      return;
    }
    let body: object | undefined;
    if (path === '/version') body = versionInfo();
    else if (path === '/api') body = apiVersions(this.opts.serverAddress());
    else if (path === '/apis') body = apiGroupList();
    else if (parts[0] === 'api' && parts.length === 2) body = resourceList('', parts[1]);
    else if (parts[0] === 'apis' && parts.length === 2) body = apiGroup(parts[1]);
    else if (parts[0] === 'apis' && parts.length === 3) body = resourceList(parts[1], parts[2]);
    if (!body) throw notFoundPath();
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    sendJson(res, 200, body);
  }

  private record(req: IncomingMessage, info: RequestInfo, user: string, code: number, started: number): void {
    if (info.isResourceRequest) {
      this.opts.metrics.record({
        verb: metricVerb(req.method ?? 'GET', info.verb, info.subresource), group: info.group, version: info.version,
        resource: info.resource, subresource: info.subresource ?? '', scope: info.name ? 'resource' : info.namespace ? 'namespace' : 'cluster', code,
      });
    }
    if (!this.opts.logPath) return;
    const line = `${new Date().toISOString()} user=${user} verb=${info.verb} ${req.method} ${req.url} code=${code} ${Date.now() - started}ms\n`;
    try {
      appendFileSync(this.opts.logPath, line);
    } catch {
      // Logging must never fail a request; the log directory may have been removed by `down`.
    }
  }
}

