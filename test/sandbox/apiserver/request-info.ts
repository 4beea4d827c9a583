/**
 * Turns a request path and method into what kube-apiserver's RequestInfoFactory derives
 * (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go): verb, group, version, namespace,
 * resource, name, subresource.
 */
import { findResource } from './resources.ts';

/** What a request is about, derived from method and path only. */
export interface RequestInfo {
  isResourceRequest: boolean;
  /** get, list, watch, create, update, patch, delete, deletecollection. */
  verb: string;
  group: string;
  version: string;
  namespace: string | undefined;
  resource: string;
  name: string | undefined;
  subresource: string | undefined;
  path: string;
}

function verbFor(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD': return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return hasName ? 'delete' : 'deletecollection';
    default: return method.toLowerCase();
  }
}

/** Parses `/api/v1/...` and `/apis/<group>/<version>/...`; anything else is a non-resource request. */
export function parseRequestInfo(method: string, url: URL): RequestInfo {
  const path = url.pathname;
  const parts = path.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  const info: RequestInfo = {
    isResourceRequest: false, verb: method.toLowerCase(), group: '', version: '', namespace: undefined,
    resource: '', name: undefined, subresource: undefined, path,
  };
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    info.version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    info.group = parts[1];
    info.version = parts[2];
    rest = parts.slice(3);
  } else {
    return info;
  }
  info.isResourceRequest = true;
  // /namespaces/{ns}/{resource}/... unless the third segment is a namespace subresource (status, finalize).
  if (rest[0] === 'namespaces' && rest.length >= 3 && findResource(info.group, rest[2])) {
    info.namespace = rest[1];
    rest = rest.slice(2);
  } else if (rest[0] === 'namespaces' && rest.length >= 2) {
    info.namespace = undefined;
  }
  [info.resource, info.name, info.subresource] = rest;
  const watchParam = url.searchParams.get('watch');
  const watch = watchParam === 'true' || watchParam === '1';
  info.verb = verbFor(method, info.name !== undefined, watch);
  if (info.resource === 'namespaces' && info.name && info.namespace === undefined && rest.length === 2) {
    info.namespace = info.name;
  }
  return info;
}
