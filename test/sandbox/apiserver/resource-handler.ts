/**
 * Resource requests after authentication and authorization: get, list, watch, create, update,
 * patch, delete and deletecollection, plus the pod subresources that are plain HTTP (status,
 * ephemeralcontainers, log) and SelfSubjectAccessReview.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KObject } from '../contract.ts';
import { servePodLogs } from './pod-logs.ts';
import { isAllowed } from './rbac.ts';
import type { DeleteOptions } from './registry.ts';
import { apiVersionOf, type ResourceInfo } from './resources.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import type { RequestContext } from './server.ts';
import { ApiError, badRequest, methodNotAllowed, notFound } from './status.ts';
import { sendJson } from './http-util.ts';
import { toTable, wantsTable } from './tables.ts';
import { serveWatch } from './watch.ts';
import { scaleOf, writeScale } from './scale.ts';

const WRITABLE_SUBRESOURCES = new Set(['status', 'ephemeralcontainers']);

function notFoundPath(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

function deleteOptions(query: URLSearchParams, body: unknown): DeleteOptions {
  const fromBody = (body && typeof body === 'object' ? body : {}) as DeleteOptions & { orphanDependents?: boolean };
  const grace = query.get('gracePeriodSeconds');
  const policy = query.get('propagationPolicy') ?? fromBody.propagationPolicy ?? (fromBody.orphanDependents ? 'Orphan' : undefined);
  return {
    gracePeriodSeconds: grace !== null ? Number(grace) : fromBody.gracePeriodSeconds,
    propagationPolicy: policy as DeleteOptions['propagationPolicy'],
    preconditions: fromBody.preconditions,
  };
}

/** DELETE carries dryRun in its DeleteOptions body (`"dryRun":["All"]`) rather than the query. */
function bodyDryRun(body: unknown): boolean {
  const dryRun = (body as { dryRun?: unknown } | undefined)?.dryRun;
  return Array.isArray(dryRun) && dryRun.includes('All');
}

function sendObject(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, r: ResourceInfo, code: number, obj: KObject): void {
  if (wantsTable(req.headers.accept)) {
    sendJson(res, code, toTable(r, [obj], obj.metadata.resourceVersion, ctx.url.searchParams.get('includeObject') ?? 'Object'));
  } else {
    sendJson(res, code, obj);
  }
}

function listObjects(ctx: RequestContext, r: ResourceInfo): KObject[] {
  const labels = parseLabelSelector(ctx.url.searchParams.get('labelSelector'));
  const fields = parseFieldSelector(ctx.url.searchParams.get('fieldSelector'));
  return ctx.opts.store.list(r.plural, ctx.info.namespace).filter((o) => labels(o) && fields(o));
}

function serveList(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, r: ResourceInfo): void {
  const rv = ctx.opts.store.resourceVersion;
  const items = listObjects(ctx, r);
  if (wantsTable(req.headers.accept)) {
    sendJson(res, 200, toTable(r, items, rv, ctx.url.searchParams.get('includeObject') ?? 'Object'));
    return;
  }
  sendJson(res, 200, { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion: rv }, items });
}

function selfSubjectAccessReview(ctx: RequestContext, body: any): object {
  const attrs = body?.spec?.resourceAttributes;
  if (!attrs && !body?.spec?.nonResourceAttributes) {
    throw new ApiError(422, 'Invalid', 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified');
  }
  const allowed = !attrs || isAllowed(ctx.opts.rbacPath, {
    user: ctx.user, verb: attrs.verb ?? '', group: attrs.group ?? '', resource: attrs.resource ?? '',
    subresource: attrs.subresource || undefined, namespace: attrs.namespace || undefined, name: attrs.name || undefined,
  }, ctx.opts.store);
  const status = !allowed ? { allowed: false } : ctx.user === "admin" ? { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "sandbox-admin" of ClusterRole "cluster-admin" to User "admin"` } : { allowed: true };
  return { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: body.spec, status };
}

/** Answers one resource request; throws ApiError for anything upstream would refuse. */
export async function handleResource(ctx: RequestContext, r: ResourceInfo, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
  const { url, opts } = ctx;
  if (r.namespaced === false && ctx.info.namespace !== undefined && r.plural !== 'namespaces') throw notFoundPath();
  // Namespace objects carry their own name as the request's namespace (for authorization only).
  const info = r.namespaced ? ctx.info : { ...ctx.info, namespace: undefined };
  ctx = { ...ctx, info };
  if (r.namespaced && info.namespace === undefined && info.name !== undefined) throw notFoundPath();
  const sub = info.subresource;
  if (sub && !r.subresources.some((s) => s.name === sub)) throw notFoundPath();
  if (r.plural === 'selfsubjectaccessreviews') {
    if (info.verb !== 'create') throw methodNotAllowed();
    sendJson(res, 201, selfSubjectAccessReview(ctx, body));
    return;
  }
  if (sub === 'portforward' || sub === 'exec' || sub === 'attach') throw badRequest('Upgrade request required');
  const name = info.name;
  const dryRunParam = url.searchParams.get('dryRun');
  if (dryRunParam !== null && dryRunParam !== 'All') throw badRequest(`Invalid dry run value: ${dryRunParam}; supported values: All`);
  const dryRun = dryRunParam === 'All';
  switch (info.verb) {
    case 'list': return serveList(ctx, req, res, r);
    case 'watch': return serveWatch(opts.store, { resource: r, namespace: info.namespace, name, query: url.searchParams, asTable: wantsTable(req.headers.accept) }, res);
    case 'get': return serveGet(ctx, req, res, r, name!, sub);
    case 'create': {
      if (name) throw methodNotAllowed();
      return sendObject(ctx, req, res, r, 201, opts.registry.create(r, info.namespace, body as KObject, dryRun));
    }
    case 'update':
      if (sub === 'scale') return sendJson(res, 200, writeScale(opts.registry, r, info.namespace, name!, body, undefined, dryRun));
      if (sub && !WRITABLE_SUBRESOURCES.has(sub)) throw methodNotAllowed();
      return sendObject(ctx, req, res, r, 200, opts.registry.update(r, info.namespace, name!, body as KObject, sub, dryRun));
    case 'patch':
      if (sub === 'scale') return sendJson(res, 200, writeScale(opts.registry, r, info.namespace, name!, body, req.headers['content-type'] ?? '', dryRun));
      if (sub && !WRITABLE_SUBRESOURCES.has(sub)) throw methodNotAllowed();
      if ((req.headers['content-type'] ?? '').startsWith('application/apply-patch+yaml') && !sub) {
        const applied = opts.registry.apply(r, info.namespace, name!, body as KObject, dryRun);
        return sendObject(ctx, req, res, r, applied.created ? 201 : 200, applied.obj);
      }
      return sendObject(ctx, req, res, r, 200, opts.registry.patch(r, info.namespace, name!, req.headers['content-type'] ?? '', body, sub, dryRun));
    case 'delete': return serveDelete(ctx, req, res, r, name!, body, dryRun || bodyDryRun(body));
    case 'deletecollection': {
      const deleted = listObjects(ctx, r).map((o) => opts.registry.delete(r, o.metadata.namespace, o.metadata.name, deleteOptions(url.searchParams, body)) ?? o);
      sendJson(res, 200, { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion: opts.store.resourceVersion }, items: deleted });
      return;
    }
    default: throw methodNotAllowed();
  }
}

function serveGet(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, r: ResourceInfo, name: string, sub: string | undefined): void {
  const obj = ctx.opts.store.get(r.plural, ctx.info.namespace, name);
  if (!obj) throw notFound(r.plural, name, r.group);
  if (sub === 'log') {
    servePodLogs(ctx.opts.node, obj, ctx.url.searchParams, res);
    return;
  }
  if (sub === 'scale') return sendJson(res, 200, scaleOf(r, obj));
  if (sub && !WRITABLE_SUBRESOURCES.has(sub)) throw methodNotAllowed();
  sendObject(ctx, req, res, r, 200, obj);
}

function serveDelete(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, r: ResourceInfo, name: string, body: unknown, dryRun: boolean): void {
  const before = ctx.opts.store.get(r.plural, ctx.info.namespace, name);
  const remaining = ctx.opts.registry.delete(r, ctx.info.namespace, name, deleteOptions(ctx.url.searchParams, body), dryRun);
  if (remaining) {
    sendObject(ctx, req, res, r, 200, remaining);
    return;
  }
  sendJson(res, 200, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success',
    details: { name, group: r.group || undefined, kind: r.plural, uid: before?.metadata.uid },
  });
}
